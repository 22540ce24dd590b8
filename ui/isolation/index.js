// Tauri's isolation pattern: every IPC message from the window passes
// through this sandboxed frame before it is encrypted and sent to the core.
// Only the wizard's own commands (and Tauri's channel plumbing) get through.
const allowed = new Set([
  "provider_presets",
  "open_app_password_page",
  "probe_server",
  "sign_in",
  "forget_account",
  "scan",
  "folder_map",
  "start_run",
  "start_domain_run",
  "current_domain_run",
  "watch_domain",
  "watch_run",
  "pause_run",
  "resume_run",
  "cancel_run",
  "verify",
  "search_log",
  "demo_available",
  "start_demo",
  "update_available",
  "read_mailbox_list",
  "add_mailbox",
  "save_job",
  "load_job",
  "forget_job",
  "sign_in_saved",
  "oauth_providers",
  "sign_in_oauth",
  "set_oauth_client",
  "check_mx",
  "save_report",
]);

window.__TAURI_ISOLATION_HOOK__ = (payload) => {
  const cmd = payload && payload.cmd;
  if (typeof cmd === "string" && (allowed.has(cmd) || cmd.startsWith("plugin:__TAURI_CHANNEL__"))) {
    return payload;
  }
  throw new Error("MailFerry blocked an unexpected command: " + String(cmd));
};
