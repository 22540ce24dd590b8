// The real desktop app in a real window: run under Xvfb (`xvfb-run`), driven
// through tauri-driver and WebKitWebDriver (the W3C WebDriver protocol,
// spoken with fetch). It starts the app built with the `demo` feature,
// takes the demo through every step — two local Dovecot servers, trusting
// their certificates, signing in, the folder map, the copy — and reads the
// verification, which counts the messages on the destination over IMAP.
//
//   MAILFERRY_APP=…/target/debug/mailferry-desktop xvfb-run -a node --test tests/app.test.mjs
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { createSocket } from "node:dgram";
import { connect as tlsConnect } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";

const app = process.env.MAILFERRY_APP;
const shots = new URL("../test-artifacts/screenshots/", import.meta.url).pathname;
mkdirSync(shots, { recursive: true });

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let driver, base, session, dns;
/** The names the app's discovery asked the test's name server about. */
const asked = [];

/** A name server on 127.0.0.1 that knows no name (NXDOMAIN to every
 *  question), so "Find my server" in the real app asks nothing beyond
 *  this machine. */
async function startNameServer() {
  const socket = createSocket("udp4");
  socket.on("message", (query, from) => {
    if (query.length < 12) return;
    let at = 12;
    const labels = [];
    while (at < query.length && query[at] !== 0) {
      labels.push(query.subarray(at + 1, at + 1 + query[at]).toString());
      at += query[at] + 1;
    }
    const end = at + 5; // the root label, QTYPE, QCLASS
    if (end > query.length) return;
    asked.push(labels.join("."));
    const answer = Buffer.from(query.subarray(0, end));
    answer[2] = 0x80 | (query[2] & 0x79); // a response; opcode and RD kept
    answer[3] = 0x80 | 3; // RA, NXDOMAIN
    answer.writeUInt16BE(1, 4); // the question
    answer.fill(0, 6, 12); // no answer, authority or additional records
    socket.send(answer, from.port, from.address);
  });
  await new Promise((r) => socket.bind(0, "127.0.0.1", r));
  return socket;
}

async function wd(method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`${method} ${path}: ${JSON.stringify(json.value ?? json)}`);
  return json.value;
}
const s = (path) => `/session/${session}${path}`;

async function find(xpath) {
  const found = await wd("POST", s("/elements"), { using: "xpath", value: xpath });
  return found.map((e) => Object.values(e)[0]);
}

async function waitFor(xpath, what, timeout = 60_000) {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    const [el] = await find(xpath).catch(() => []);
    if (el) return el;
    await sleep(250);
  }
  await shot(`app-timeout`);
  throw new Error(`timed out waiting for ${what}`);
}

async function click(label, timeout) {
  const xpath = `//button[normalize-space()="${label}" and not(@disabled)]`;
  const el = await waitFor(xpath, `an enabled "${label}" button`, timeout);
  await wd("POST", s(`/element/${el}/click`), {});
}

async function text(xpath) {
  const el = await waitFor(xpath, xpath);
  return wd("GET", s(`/element/${el}/text`));
}

/** Waits for the system's save dialog (a GTK window under Xvfb) and
 *  presses Enter in it, through xdotool. */
async function answerSaveDialog() {
  const found = spawnSync("xdotool", ["search", "--sync", "--onlyvisible", "--name", "Save the migration report"], {
    encoding: "utf8",
    timeout: 30_000,
  });
  const id = found.stdout.trim().split("\n").at(-1);
  assert.ok(id, `the save dialog opened: ${found.stderr}`);
  await sleep(500);
  spawnSync("xdotool", ["windowfocus", "--sync", id], { timeout: 10_000 });
  spawnSync("xdotool", ["key", "--clearmodifiers", "Return"], { timeout: 10_000 });
}

/** Delivers `message` into alice's INBOX at the old (demo source) server
 *  over IMAP, as another mail client would: a straggler after the switch. */
function deliver(port, message) {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false });
    let seen = "";
    const steps = [
      ["* OK", () => socket.write("a LOGIN alice alicepass\r\n")],
      ["a OK", () => socket.write(`b APPEND INBOX {${Buffer.byteLength(message)}}\r\n`)],
      ["+ ", () => socket.write(`${message}\r\n`)],
      ["b OK", () => socket.write("c LOGOUT\r\n")],
      ["c OK", () => (socket.end(), resolve())],
    ];
    socket.setTimeout(20_000, () => reject(new Error(`IMAP delivery timed out: ${seen}`)));
    socket.on("error", reject);
    socket.on("data", (chunk) => {
      seen += chunk.toString("latin1");
      while (steps.length && seen.includes(steps[0][0])) {
        seen = seen.slice(seen.indexOf(steps[0][0]) + steps[0][0].length);
        steps.shift()[1]();
      }
      if (/^[abc] (NO|BAD)/m.test(seen)) reject(new Error(`the server refused: ${seen}`));
    });
  });
}

async function shot(name) {
  const png = await wd("GET", s("/screenshot"));
  writeFileSync(join(shots, `${name}.png`), Buffer.from(png, "base64"));
}

before(async () => {
  assert.ok(app, "MAILFERRY_APP names the desktop binary (built with --features demo)");
  const port = await freePort();
  const nativePort = await freePort();
  base = `http://127.0.0.1:${port}`;
  // The app keeps its job files under $HOME: a fresh one per test run.
  const home = mkdtempSync(join(tmpdir(), "mailferry-app-test-"));
  dns = await startNameServer();
  driver = spawn(process.env.TAURI_DRIVER ?? "tauri-driver", ["--port", String(port), "--native-port", String(nativePort)], {
    env: {
      ...process.env,
      HOME: home,
      XDG_DATA_HOME: join(home, ".local/share"),
      // Discovery asks the test's name server and no ISPDB: nothing leaves 127.0.0.1.
      MAILFERRY_NAME_SERVER: `127.0.0.1:${dns.address().port}`,
      MAILFERRY_ISPDB: "",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${base}/status`).then((r) => r.ok, () => false)) break;
    await sleep(100);
  }
  const created = await wd("POST", "/session", {
    capabilities: { alwaysMatch: { "tauri:options": { application: app } } },
  });
  session = created.sessionId;
});

after(async () => {
  // Closing the session closes the app; an app that does not quit within
  // 20 s (seen once, intermittently) must not hold the test run open.
  if (session) await Promise.race([wd("DELETE", s("")).catch(() => {}), sleep(20_000)]);
  spawnSync("pkill", ["-f", app]);
  driver?.kill();
  dns?.close();
});

test("the app opens on the first screen with the demo offer", async () => {
  await waitFor(`//h1[normalize-space()="Where from, where to"]`, "the first screen");
  await waitFor(`//button[normalize-space()="Try it on demo servers"]`, "the demo offer");
  await shot("app-1-where");
});

test("typing an address asks the engine's discovery, which says in words that nothing was found and what to do", async () => {
  const input = await waitFor(`//input[@name="source-user"]`, "the source address field");
  await wd("POST", s(`/element/${input}/value`), { text: "anna@bakery.example" });
  await click("Find my server");
  const words = await text(`//*[@data-found="none"]`);
  assert.match(words, /No mail server was found for bakery\.example/);
  assert.match(words, /Pick your provider below/);
  assert.ok(asked.some((name) => name.toLowerCase() === "bakery.example"), `the domain's records were asked: ${asked.join(", ")}`);
  assert.ok(asked.every((name) => name.toLowerCase().endsWith("bakery.example")), `only names of the domain: ${asked.join(", ")}`);
  await shot("app-1b-not-found");
});

test("a full migration of the demo office (three mailboxes) through the wizard, verified at the destination", async () => {
  await click("Try it on demo servers");
  // The demo servers have their own certificate authority: one trust dialog per server.
  for (let i = 0; i < 2; i++) {
    await waitFor(`//*[@role="dialog"]`, "the certificate dialog");
    if (i === 0) await shot("app-2-certificate");
    const fingerprint = await text(`//*[@role="dialog"]//code`);
    assert.match(fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/, "the dialog shows the SHA-256 fingerprint");
    await click("Trust this server's certificate");
    await sleep(300);
  }
  await click("Continue to sign in", 60_000);
  for (const side of ["source", "destination"]) {
    const button = await waitFor(`//*[@data-side="${side}"]//button[normalize-space()="Sign in"]`, `${side} sign in`);
    await wd("POST", s(`/element/${button}/click`), {});
    await waitFor(`//*[@data-side="${side}"]//*[@data-step="can_read_folders" and contains(@class,"ok")]`, `${side} signed in`);
  }
  await shot("app-3-signed-in");
  await click("Continue"); // to mailboxes
  // The demo office's two other mailboxes, pasted as a list and signed in by the shell.
  await click("Paste the demo list");
  await click("Add these mailboxes");
  await waitFor(`//tr[@data-pair="office"]//*[normalize-space()="Ready"]`, "the demo's other mailboxes", 60_000);
  await shot("app-4-mailboxes");
  await click("Continue"); // to scan
  await waitFor(`//h2[normalize-space()="Biggest folders"]`, "the scan");
  assert.match(await text(`//*[@data-estimate]`), /minute|hour|day/, "the estimate in words");
  await waitFor(`//*[@role="img"]//*[contains(@class,"chart-bar")]`, "the chart's bars");
  await shot("app-5-scan");
  await click("Continue"); // to the folder map
  await waitFor(`//*[contains(@class,"summary")]`, "the folder map");
  // One edit, made in the window, must reach the copy: Receipts gets a new name.
  const rename = await waitFor(`//button[@aria-label="Rename Receipts on the new server"]`, "the rename button");
  await wd("POST", s(`/element/${rename}/click`), {});
  const field = await waitFor(`//input[@id="rename-input"]`, "the new name field");
  await wd("POST", s(`/element/${field}/clear`), {});
  await wd("POST", s(`/element/${field}/value`), { text: "Old receipts" });
  await click("Save");
  await waitFor(`//tr[@data-folder="Receipts"]//*[normalize-space()="renamed by you"]`, "the rename in the map");
  await shot("app-6-folder-map");
  await click("Continue");
  await click("Copy mail to Microsoft 365");
  // One mailbox after the other: all three finished.
  await waitFor(`(//*[@data-mailbox-state="finished"])[3]`, "all three copies to finish", 180_000);
  await waitFor(`//*[@data-state="finished"]`, "the copy to finish", 120_000);
  await shot("app-7-copied");
  await click("Check the result");
  const headline = await text(`//*[contains(@class,"headline")]`);
  await shot("app-8-check");
  assert.match(headline, /Safe to switch your domain\./, headline);
  assert.match(headline, /All \d+ messages arrived|Every message is accounted for/, headline);
  // The folder-by-folder table (the spot check's tables name folders too).
  const audit = `//table[contains(concat(" ", normalize-space(@class), " "), " table ")]`;
  const cell = (n) => text(`${audit}//tr[td[1][normalize-space()="INBOX"]]/td[${n}]`);
  assert.equal(await cell(2), "14", "the source INBOX holds 14 messages");
  assert.equal(await cell(4), "14", "the destination INBOX, counted over IMAP, holds them all");
  const receipts = (n) => text(`${audit}//tr[td[1][normalize-space()="Receipts"]]/td[${n}]`);
  assert.equal(await receipts(3), "Old receipts", "the renamed folder");
  assert.equal(await receipts(4), await receipts(2), "every receipt arrived under its new name");
  // The report, saved through the system's save dialog (answered here as
  // a person would: it opens in Downloads, else the home folder, with the
  // report's name; Enter saves): the same counts, the closing checklist,
  // no password.
  await click("Save the report (web page)");
  await answerSaveDialog();
  const saved = await text(`//*[@data-saved]//code`);
  assert.match(saved, /^\/tmp\/mailferry-app-test-[^/]+\/(Downloads\/)?MailFerry report \d{4}-\d{2}-\d{2}\.html$/);
  const report = readFileSync(saved, "utf8");
  assert.match(report, /Receipts -&gt; Old receipts: 7 at the old server, 7 at the new/);
  assert.match(report, /Remove the app passwords/);
  assert.doesNotMatch(report, /alicepass/, "no password in the report");
  // The shared office mailbox, checked the same way.
  await click("office → office");
  await waitFor(`//tr[td[1][normalize-space()="INBOX"]]/td[2][normalize-space()="4"]`, "the office mailbox's check", 60_000);
  assert.equal(await cell(4), "4", "the office's destination INBOX holds its 4 messages");
  await shot("app-8-check-office");
});

test("the demo office's address book and calendar move too, through the wizard's last step, verified", async () => {
  await click("Move contacts & calendars too");
  // The demo's contacts and calendar servers (Radicale) are filled in.
  const source = await waitFor(`//input[@name="dav-source"]`, "the old contacts address");
  assert.match(await wd("GET", s(`/element/${source}/property/value`)), /^http:\/\/127\.0\.0\.1:\d+\/$/);
  await click("Look", 60_000);
  await waitFor(`//tr[@data-collection="Office calendar"]`, "the calendar in the plan", 60_000);
  assert.match(await text(`//tr[@data-collection="Contacts"]`), /8 contacts/);
  await shot("app-9-contacts-plan");
  await click("Copy contacts & calendars");
  const headline = await text(`//*[@data-contacts-check]`);
  await shot("app-9-contacts-done");
  assert.match(headline, /All 11 contacts and calendar entries arrived\./, headline);
});

test("after the switch, the app watches the old server and a straggler delivered there arrives by itself", async () => {
  const rail = (label) => waitFor(`//nav[@aria-label="Steps"]//button[contains(normalize-space(), "${label}")]`, `the ${label} step`);
  // The old server's port, as the first screen shows it.
  await wd("POST", s(`/element/${await rail("Where from")}/click`), {});
  const portField = await waitFor(`//section[@aria-labelledby="source-heading"]//input[@type="number"]`, "the old server's port");
  const port = Number(await wd("GET", s(`/element/${portField}/property/value`)));
  assert.ok(port > 0, "the demo source's port");
  await wd("POST", s(`/element/${await rail("Copy")}/click`), {});
  // The rest of the plan: catch up, the big messages, the switch, the final catch-up.
  await click("Catch up now", 60_000);
  await waitFor(`//li[@data-stage="delta" and contains(@class,"done")]`, "the catch-up", 120_000);
  await click("Copy the big messages", 60_000);
  await waitFor(`//li[@data-stage="large" and contains(@class,"done")]`, "the big messages", 120_000);
  for (const box of (await find(`//ul[@class="cutover"]//input[@type="checkbox"]`)).slice(0, 3)) {
    await wd("POST", s(`/element/${box}/click`), {});
  }
  await click("The domain is switched");
  await click("Catch up now", 60_000);
  await waitFor(`//li[@data-stage="final" and contains(@class,"done")]`, "the final catch-up", 120_000);
  // Every mailbox of the office is watched.
  await waitFor(`(//*[@data-watched][@data-state="watching"])[3]`, "every mailbox watched", 60_000);
  await shot("app-9-watching");
  await deliver(port, [
    "From: Late Sender <late@example.net>",
    "To: alice@example.com",
    "Subject: Sent before the records changed",
    "Date: Sat, 05 Dec 2026 10:00:00 +0000",
    "Message-ID: <straggler-1@example.net>",
    "",
    "This one was still on its way to the old server.",
  ].join("\r\n"));
  const line = await text(`//*[@data-watch-line][contains(normalize-space(), "1 today")]`);
  assert.match(line, /^Mail still arriving at the old server: 1 today, last at \d{2}:\d{2}$/);
  assert.match(await text(`//*[@data-watched="alice"]`), /1 message moved/);
  await shot("app-10-straggler");
  await click("Stop watching");
  await waitFor(`//*[@data-watch-end]`, "the watch's end");
});

