// Tauri's isolation pattern: every IPC message from the window passes
// through this sandboxed frame before it is encrypted and sent to the core.
// Only the wizard's own commands (and Tauri's channel plumbing) get through.
const allowed = new Set(commands); // commands.js, generated from the shell's list

window.__TAURI_ISOLATION_HOOK__ = (payload) => {
  const cmd = payload && payload.cmd;
  if (typeof cmd === "string" && (allowed.has(cmd) || cmd.startsWith("plugin:__TAURI_CHANNEL__"))) {
    return payload;
  }
  throw new Error("MailFerry blocked an unexpected command: " + String(cmd));
};
