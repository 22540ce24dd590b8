import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// The app build (dist/, embedded in the desktop binary) and, with
// `--mode test`, the browser-test build (dist-test/: the same app behind
// Tauri's IPC mocks; never shipped).
export default defineConfig(({ mode }) => ({
  plugins: [svelte()],
  clearScreen: false,
  base: "./",
  build: {
    outDir: mode === "test" ? "test-artifacts/dist-test" : "dist",
    emptyOutDir: true,
    target: "es2022",
    // No inline scripts or styles: the CSP allows 'self' only.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    rollupOptions: mode === "test" ? { input: "tests/mock.html" } : undefined,
  },
}));
