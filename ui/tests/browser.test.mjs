// The wizard's screens in a real browser (Debian's chromium, driven by
// playwright-core), with Tauri's IPC mocked (tests/mock-main.ts). Each test
// walks a path through the screens and saves screenshots to
// test-artifacts/screenshots/ (gitignored) for a person to look at.
//
//   npm run build:test && node --test tests/browser.test.mjs
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdirSync, readFileSync, existsSync } from "node:fs";
import { extname, join, normalize } from "node:path";
import { chromium } from "playwright-core";

const root = new URL("../test-artifacts/dist-test/", import.meta.url).pathname;
const shots = new URL("../test-artifacts/screenshots/", import.meta.url).pathname;
mkdirSync(shots, { recursive: true });
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png" };

let server, browser, base;

before(async () => {
  server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^(\.\.[/\\])+/, "");
    const file = join(root, path);
    if (!file.startsWith(root) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
      // The same policy as the app's (tauri.conf.json): no inline code.
      "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'",
    });
    res.end(readFileSync(file));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${server.address().port}/tests/mock.html`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function open(scenario, { dark = false } = {}) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 720 }, colorScheme: dark ? "dark" : "light" });
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  await page.goto(`${base}?scenario=${scenario}`);
  await page.getByRole("heading", { name: "Where from, where to" }).waitFor();
  return { page, problems };
}

const snap = (page, name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

async function chooseProviders(page) {
  const source = page.getByRole("radiogroup", { name: "Your old provider" });
  const dest = page.getByRole("radiogroup", { name: "Your new provider" });
  await source.getByRole("radio", { name: "Gmail / Google Workspace" }).click();
  await dest.getByRole("radio", { name: "Microsoft 365 / Outlook.com" }).click();
  await page.locator('input[name="source-user"]').fill("owner@example.com");
  await page.locator('input[name="destination-user"]').fill("owner@example.com");
}

async function signInBoth(page, password = "app-password") {
  for (const side of ["source", "destination"]) {
    const card = page.locator(`[data-side="${side}"]`);
    if (await card.locator(`input[name="${side}-password"]`).count()) {
      await card.locator(`input[name="${side}-password"]`).fill(password);
      await card.getByRole("button", { name: "Sign in" }).click();
    }
    await card.locator('[data-step="can_read_folders"].ok').waitFor();
  }
}

/** From the first screen to the Mailboxes step, signed in on both sides. */
async function toMailboxes(page) {
  await chooseProviders(page);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: "Continue to sign in" }).click();
  await signInBoth(page);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("heading", { name: "Mailboxes" }).waitFor();
}

/** The Google Workspace directory's form filled in (the key file and an administrator). */
async function fillGoogleDirectory(page) {
  await page.locator('input[name="directory-key"]').setInputFiles({
    name: "mailferry-key.json", mimeType: "application/json", buffer: Buffer.from('{"type":"service_account"}'),
  });
  await page.locator('input[name="directory-admin"]').fill("owner@example.com");
}

async function copyAndCheck(page, name, mailboxes = 1) {
  await page.getByRole("button", { name: "Continue" }).click(); // mailboxes
  await page.getByRole("heading", { name: "Scan" }).waitFor();
  await page.getByText("Biggest folders").waitFor();
  await page.locator("[data-estimate]").waitFor();
  await snap(page, `${name}-5-scan`);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByText("6 folders, 3 skipped").waitFor();
  await snap(page, `${name}-6-folder-map`);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: /Copy mail to/ }).click();
  await page.locator('[data-state="copying"]').waitFor();
  await snap(page, `${name}-7-copy-running`);
  if (mailboxes > 1) {
    // Two at a time: the shell copies two mailboxes while the third waits.
    await page.waitForFunction(() => document.querySelectorAll('[data-mailbox-state="copying"]').length === 2);
    assert.equal(await page.locator('[data-mailbox-state="waiting"]').count(), mailboxes - 2);
    await snap(page, `${name}-7-copy-mailboxes-running`);
    await page.locator('[data-mailbox-state="finished"]').nth(mailboxes - 1).waitFor();
  }
  await page.locator('[data-state="finished"]').waitFor();
  if (name === "rejected") {
    assert.match(await page.locator("[data-refused]").innerText(), /Receipts: the new server refused it: \[LIMIT\] Message too large/);
    await page.getByText("The copy went on without them.").waitFor();
    // A folder the old server renumbered waits for the user: copied once they say so.
    await page.getByRole("button", { name: "Copy this folder anyway" }).click();
    await page.waitForFunction(() => window.__mock.accepted.length === 1);
    assert.equal((await page.evaluate(() => window.__mock.accepted))[0].folder, "Projects 2019");
  }
  await snap(page, `${name}-7-copy-done`);
  await page.getByRole("button", { name: "Check the result" }).click();
  await page.getByRole("status").first().waitFor();
}

test("happy path: demo servers, connect, sign in, scan, folder map, copy with live progress, check", async () => {
  const { page, problems } = await open("happy");
  await snap(page, "happy-1-where");
  await page.getByRole("button", { name: "Try it on demo servers" }).click();
  await page.getByRole("heading", { name: "Connect" }).waitFor();
  await page.locator('[data-side="destination"] [data-step="secure_connection"].ok').waitFor();
  await page.getByText("only reads from Gmail").waitFor();
  await snap(page, "happy-2-connect");
  await page.getByRole("button", { name: "Continue to sign in" }).click();
  assert.equal(await page.locator('input[name="source-password"]').inputValue(), "alicepass", "the demo fills its password in");
  await signInBoth(page);
  await page.getByText("used for this session only").first().waitFor(); // demo passwords stay out of the keychain
  await snap(page, "happy-3-sign-in");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("heading", { name: "Mailboxes" }).waitFor();
  // The demo office's two other mailboxes, pasted as a list.
  await page.getByRole("button", { name: "Paste the demo list" }).click();
  await page.getByRole("button", { name: "Add these mailboxes" }).click();
  await page.locator('tr[data-pair="office"]').getByText("Ready").waitFor();
  assert.equal(await page.locator('textarea[name="mailbox-list"]').inputValue(), "", "the pasted list is not kept");
  assert.equal(await page.locator("table.pairs tbody tr").count(), 3);
  await snap(page, "happy-4-mailboxes");
  await copyAndCheck(page, "happy", 3);
  await page.getByText("Safe to switch your domain.").waitFor();
  // The spot check: four cards, old and new server side by side, real subjects.
  const spot = page.getByRole("region", { name: "Spot check" });
  assert.equal(await spot.locator("[data-spot]").count(), 4);
  assert.equal(await spot.locator('[data-outcome="passed"]').count(), 4);
  const starred = spot.locator('[data-spot="starred"]');
  assert.match(await starred.innerText(), /"Signed lease, keep!" from Harbour Lettings .* is starred at the new server too/);
  assert.match(await starred.locator("thead").innerText(), /Gmail\s+Microsoft 365/, "the columns are the two providers");
  assert.match(await spot.locator('[data-spot="sent"]').innerText(), /Oldest\s+4 Jan 2021, 09:12\s+4 Jan 2021, 09:12/);
  await spot.screenshot({ path: join(shots, "happy-8-spot-check.png") });
  await page.getByRole("button", { name: "Save the report (web page)" }).click();
  assert.match(await page.locator("[data-saved]").innerText(), /Saved to .*MailFerry report 2026-11-26\.html/);
  await page.getByRole("button", { name: "Put it in my new inbox" }).click();
  await page.locator("[data-mailed]").getByText("in the new mailbox's inbox, unread").waitFor();
  assert.equal((await mock(page)).mailed, 1, "the shell was asked once");
  assert.match(await page.locator(".closing").innerText(), /Remove the app passwords/);
  assert.match(await page.locator(".closing").innerText(), /Revoke MailFerry's access/);
  await page.locator('input[name="log-search"]').fill("Order 5");
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByText("Order 5 (INBOX)").waitFor();
  await snap(page, "happy-8-check");
  // Each mailbox has its own check.
  const picker = page.getByRole("radiogroup", { name: "Mailbox" });
  assert.equal(await picker.getByRole("radio").count(), 3);
  assert.equal(await picker.getByRole("radio", { name: "alice → alice" }).getAttribute("aria-checked"), "true");
  await picker.getByRole("radio", { name: "office → office" }).click();
  await picker.locator('[aria-checked="true"]', { hasText: "office" }).waitFor();
  await page.getByText("Safe to switch your domain.").waitFor();
  // Step 9: the demo office's address book and calendar, preview → copy → check.
  await page.getByRole("button", { name: "Move contacts & calendars too" }).click();
  await page.getByRole("heading", { name: "Contacts & calendars" }).waitFor();
  assert.equal(await page.locator('input[name="dav-source"]').inputValue(), "http://127.0.0.1:45232/", "the demo fills the addresses in");
  await page.getByRole("button", { name: "Look" }).click();
  const plan = page.locator("[data-contacts-plan]");
  await plan.waitFor();
  assert.match(await plan.locator('[data-collection="Contacts"]').innerText(), /Address book “Contacts”\s+8 contacts\s+“Contacts” new/);
  assert.match(await plan.locator('[data-collection="Office calendar"]').innerText(), /Calendar “Office calendar”\s+3 entries/);
  await snap(page, "happy-9-contacts-plan");
  await page.getByRole("button", { name: "Copy contacts & calendars" }).click();
  await page.locator("[data-contacts-check]").getByText("All 11 contacts and calendar entries arrived.").waitFor();
  assert.equal(await plan.getByText("all there").count(), 2);
  await snap(page, "happy-9-contacts-done");
  const ticked = await page.locator(".rail-step.done").count();
  assert.equal(ticked, 9, "every step is ticked in the rail at the end");
  assert.deepEqual(problems, [], "no script errors and no CSP violations");
  await page.close();
});

test("wrong password: the sign-in stops at its line with plain words, and a retry works", async () => {
  const { page, problems } = await open("wrong-password");
  await chooseProviders(page);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: "Continue to sign in" }).click();
  const card = page.locator('[data-side="source"]');
  await card.locator('input[name="source-password"]').fill("wrong");
  await card.getByRole("button", { name: "Sign in" }).click();
  const alert = card.locator('[data-code="AuthFailed"]');
  await alert.waitFor();
  assert.match(await alert.innerText(), /didn't accept the user name or password/);
  assert.equal(await card.locator('[data-step="signed_in"].failed').count(), 1, "the failure sits on 'Signed in'");
  assert.doesNotMatch(await alert.locator("p").innerText(), /AUTHENTICATIONFAILED/, "protocol text only behind Show details");
  await card.getByText("Show details").click();
  await snap(page, "wrong-password-3-sign-in");
  await signInBoth(page);
  await card.getByText("kept in this computer's keychain").waitFor();
  assert.deepEqual(problems, []);
  await page.close();
});

test("untrusted certificate: the dialog shows the fingerprint; trusting it pins it and the connection passes", async () => {
  const { page, problems } = await open("untrusted");
  await chooseProviders(page);
  await page.getByRole("button", { name: "Continue" }).click();
  const dialog = page.getByRole("dialog", { name: "Trust this server's certificate?" });
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /3A:7F:12:9C/);
  await snap(page, "untrusted-2-certificate-dialog");
  await dialog.getByRole("button", { name: "Trust this server's certificate" }).click();
  // Both demo-like servers have private certificates: one dialog each, in turn.
  await dialog.getByRole("button", { name: "Trust this server's certificate" }).click();
  for (const side of ["source", "destination"]) {
    await page.locator(`[data-side="${side}"] [data-step="secure_connection"].ok`).waitFor();
  }
  await page.getByText("You trusted this server's certificate").first().waitFor();
  await snap(page, "untrusted-2-connect-trusted");
  assert.deepEqual(problems, []);
  await page.close();
});

test("message rejected: the copy lists it, and the check says it needs attention (dark theme)", async () => {
  const { page, problems } = await open("rejected", { dark: true });
  await chooseProviders(page);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: "Continue to sign in" }).click();
  await signInBoth(page);
  await page.getByRole("button", { name: "Continue" }).click();
  await copyAndCheck(page, "rejected");
  await page.getByText("Not safe to switch your domain yet.").waitFor();
  assert.match(await page.locator(".headline").innerText(), /38 of 39 arrived; 1 needs attention/);
  await page.getByText("Message too large").first().waitFor();
  // The spot check names the newest message, which did not arrive.
  const newest = page.getByRole("region", { name: "Spot check" }).locator('[data-spot="newest"]');
  assert.equal(await newest.getAttribute("data-outcome"), "failed");
  assert.match(await newest.innerText(), /"Order 18 \(Receipts\)" from Customer 18 .* is not at the new server \(looked in Receipts\)/);
  assert.match(await newest.locator("tr.differs").first().innerText(), /Folder\s+Receipts\s+not there/);
  await newest.screenshot({ path: join(shots, "rejected-8-spot-check-newest.png") });
  await snap(page, "rejected-8-check");
  await page.setViewportSize({ width: 900, height: 600 });
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth), false, "the check fits at 900 px");
  await snap(page, "small-8-check");
  await page.setViewportSize({ width: 1280, height: 800 });
  // Contacts: a typo in the address says what is wrong; a refused entry is named with its reason.
  await page.getByRole("button", { name: "Move contacts & calendars too" }).click();
  // Gmail's side offers Google's own sign-in; this owner has an address instead.
  await page.locator('[data-google="source"]').getByRole("button", { name: "Use a contacts and calendar address instead" }).click();
  assert.equal(await page.locator('input[name="dav-source"]').inputValue(), "owner@example.com", "the mail address is filled in: the servers are found from it");
  // Microsoft 365 is offered directly; this owner has an address for the new side.
  await page.getByRole("button", { name: "Use a contacts and calendar address instead" }).click();
  await page.locator('input[name="dav-source"]').fill("dav old example");
  await page.locator('input[name="dav-destination"]').fill("https://dav.new.example/");
  await page.getByRole("button", { name: "Look" }).click();
  await page.getByText("is neither an email address nor a domain nor a web address").waitFor();
  await page.locator('input[name="dav-source"]').fill("https://dav.old.example/");
  await page.getByRole("button", { name: "Look" }).click();
  await page.getByRole("button", { name: "Copy contacts & calendars" }).click();
  await page.locator("[data-contacts-check]").getByText("10 of 11 contacts and calendar entries arrived.").waitFor();
  assert.match(await page.locator("tr.attention", { hasText: "demo-visit" }).last().innerText(), /Office calendar\s+demo-visit\s+the new server refused it \(HTTP 403\)/);
  await snap(page, "rejected-9-contacts");
  assert.deepEqual(problems, []);
  await page.close();
});

/** Gmail → Microsoft 365, the mail moved and checked, at the Contacts & calendars step. */
async function gmailToMicrosoftContacts() {
  const opened = await open("graph");
  const { page } = opened;
  await chooseProviders(page);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: "Continue to sign in" }).click();
  await signInBoth(page);
  await page.getByRole("button", { name: "Continue" }).click();
  await copyAndCheck(page, "graph");
  await page.getByRole("button", { name: "Move contacts & calendars too" }).click();
  await page.getByRole("heading", { name: "Contacts & calendars" }).waitFor();
  return opened;
}

test("contacts to Microsoft 365: preselected, signed in through the browser, attendees' invitations chosen, copied and checked", async () => {
  const { page, problems } = await gmailToMicrosoftContacts();
  // The new side is Microsoft 365: no address to find, a sign-in instead.
  const to = page.locator('[data-graph="destination"]');
  await to.getByText("Through Microsoft 365 directly").waitFor();
  assert.equal(await page.locator('input[name="dav-destination"]').count(), 0, "no address asked for Microsoft 365");
  // This owner's old contacts are at an address of their own, not Google's.
  await page.locator('[data-google="source"]').getByRole("button", { name: "Use a contacts and calendar address instead" }).click();
  assert.equal(await page.locator('input[name="dav-source"]').count(), 1, "Gmail's side keeps its address");
  await page.locator('input[name="dav-source"]').fill("https://dav.old.example/");
  const look = page.getByRole("button", { name: "Look" });
  assert.equal(await look.isDisabled(), true, "nothing to look at before the sign-in");
  await snap(page, "graph-9-contacts-sign-in");
  // The first sign-in is turned down: plain words, then a retry works.
  await to.getByRole("button", { name: "Sign in to Microsoft 365 in your browser" }).click();
  await to.getByRole("button", { name: "Waiting for your browser…" }).waitFor();
  const alert = page.locator('[data-code="AuthFailed"]');
  await alert.waitFor();
  assert.match(await alert.innerText(), /Microsoft 365 did not let MailFerry into the contacts and calendars of owner@example.com/);
  assert.doesNotMatch(await alert.locator("p").first().innerText(), /HTTP 401|consent_required/, "the technical text only behind Show details");
  await snap(page, "graph-9-contacts-refused");
  await to.getByRole("button", { name: "Sign in to Microsoft 365 in your browser" }).click();
  await to.getByText("Signed in to Microsoft 365 as owner@example.com. MailFerry keeps this sign-in in your keychain.").waitFor();
  assert.equal(await alert.count(), 0, "the problem is gone once signed in");
  // The preview says what does not carry over, and asks about the attendees (none invited by default).
  await look.click();
  const plan = page.locator("[data-contacts-plan]");
  await plan.waitFor();
  assert.match(await plan.locator('[data-collection="Contacts"]').innerText(), /1 entry loses a detail Outlook has no place for/);
  const attendees = page.locator("[data-attendees]");
  assert.equal(await attendees.getByRole("radio", { name: /Without their attendees/ }).isChecked(), true);
  assert.match(await plan.locator('[data-collection="Office calendar"]').innerText(), /copied without them, so Outlook sends no invitation/);
  await attendees.getByRole("radio", { name: /As they are/ }).check();
  await plan.locator('[data-collection="Office calendar"]').getByText("Outlook sends them an invitation when the event is created").waitFor();
  await snap(page, "graph-9-contacts-invitations");
  await attendees.getByRole("radio", { name: /Without their attendees/ }).check();
  await plan.locator('[data-collection="Office calendar"]').getByText("copied without them").waitFor();
  await snap(page, "graph-9-contacts-plan");
  await page.getByRole("button", { name: "Copy contacts & calendars" }).click();
  await page.locator("[data-contacts-check]").getByText("All 11 contacts and calendar entries arrived.").waitFor();
  const [copy] = (await mock(page)).contactsCopies;
  assert.deepEqual(copy.destination, { url: "", account: copy.destination.account, graph: true, google: false, attendees: false });
  assert.equal(copy.source.graph, false);
  assert.equal(copy.source.google, false);
  await snap(page, "graph-9-contacts-done");
  // An address instead is one click away.
  await to.getByRole("button", { name: "Use a contacts and calendar address instead" }).click();
  await page.locator('input[name="dav-destination"]').waitFor();
  await page.getByRole("button", { name: "Use Microsoft 365 directly instead" }).click();
  await to.getByText("Signed in to Microsoft 365 as owner@example.com.").waitFor();
  assert.deepEqual(problems, []);
  await page.close();
});

test("contacts from Google Workspace: Google's own sign-in in the browser, then Google's addresses found from the email; an address instead is one click away", async () => {
  const { page, problems } = await gmailToMicrosoftContacts();
  // The old side is Google: its own sign-in, said why, and no address to type.
  const from = page.locator('[data-google="source"]');
  await from.getByText("Google's contacts and calendars of owner@example.com: MailFerry finds them from your email address.").waitFor();
  assert.match(await from.innerText(), /The mail's sign-in only opens the mail/);
  assert.equal(await page.locator('input[name="dav-source"]').count(), 0, "no address asked for Google");
  const look = page.getByRole("button", { name: "Look" });
  assert.equal(await look.isDisabled(), true, "nothing to look at before the sign-ins");
  await snap(page, "google-9-contacts-sign-in");
  await from.getByRole("button", { name: "Sign in to Google in your browser" }).click();
  await from.getByRole("button", { name: "Waiting for your browser…" }).waitFor();
  await page.getByText("Waiting for you to finish signing in to Google in your browser…").waitFor();
  await from.getByText("Signed in to Google as owner@example.com. MailFerry keeps this sign-in in your keychain.").waitFor();
  // Microsoft 365 at the new side (its first sign-in is turned down in this scenario).
  const to = page.locator('[data-graph="destination"]');
  await to.getByRole("button", { name: "Sign in to Microsoft 365 in your browser" }).click();
  await page.locator('[data-code="AuthFailed"]').waitFor();
  await to.getByRole("button", { name: "Sign in to Microsoft 365 in your browser" }).click();
  await to.getByText("Signed in to Microsoft 365 as owner@example.com.").waitFor();
  await snap(page, "google-9-contacts-signed-in");
  await look.click();
  await page.locator("[data-contacts-plan]").waitFor();
  await page.getByRole("button", { name: "Copy contacts & calendars" }).click();
  await page.locator("[data-contacts-check]").getByText("All 11 contacts and calendar entries arrived.").waitFor();
  const [copy] = (await mock(page)).contactsCopies;
  assert.deepEqual(copy.source, { url: "", account: copy.source.account, graph: false, google: true }, "Google's addresses, found from the email");
  await snap(page, "google-9-contacts-done");
  // An address instead is one click away, and back.
  await from.getByRole("button", { name: "Use a contacts and calendar address instead" }).click();
  assert.equal(await page.locator('input[name="dav-source"]').inputValue(), "owner@example.com");
  await snap(page, "google-9-contacts-address");
  await page.getByRole("button", { name: "Sign in to Google for its contacts and calendars instead" }).click();
  await from.getByText("Signed in to Google as owner@example.com.").waitFor();
  assert.deepEqual(problems, []);
  await page.close();
});

test("type your address: MailFerry finds the server, says how, and fills the settings; the new side says it still leads to the old one", async () => {
  const { page, problems } = await open("plain");
  const continueButton = page.getByRole("button", { name: "Continue" });
  const source = page.locator('section[aria-labelledby="source-heading"]');
  const dest = page.locator('section[aria-labelledby="destination-heading"]');
  await source.locator('input[name="source-user"]').fill("anna@bakery.example");
  await source.getByRole("button", { name: "Find my server" }).click();
  const ok = source.locator('[data-found="ok"]');
  await ok.waitFor();
  assert.match(await ok.innerText(), /handled by Google Workspace \(from its MX records\)/);
  assert.equal(await source.getByRole("radio", { name: "Gmail / Google Workspace" }).getAttribute("aria-checked"), "true");
  await source.locator("details.settings summary").click();
  assert.equal(await source.locator('input[name="source-host-detail"]').inputValue(), "imap.gmail.com");
  assert.equal(await source.locator('input[name="source-user"]').inputValue(), "anna@bakery.example", "the address is kept");
  // The same address on the new side: before the switch it still leads
  // to the old provider, which is said, and nothing is filled in.
  await dest.locator('input[name="destination-user"]').fill("anna@bakery.example");
  await dest.locator('input[name="destination-user"]').press("Enter");
  const same = dest.locator('[data-found="same"]');
  await same.waitFor();
  assert.match(await same.innerText(), /still leads to where your mail is now/);
  assert.equal(await dest.locator('[role="radio"][aria-checked="true"]').count(), 0);
  assert.equal(await continueButton.isDisabled(), true);
  await snap(page, "where-1-found");
  await dest.getByRole("radio", { name: "Microsoft 365 / Outlook.com" }).click();
  assert.equal(await dest.locator("[data-found]").count(), 0, "a tile replaces what was found");
  assert.equal(await continueButton.isDisabled(), false);
  const asked = await page.evaluate(() => window.__mock.discovered);
  assert.deepEqual(asked, ["anna@bakery.example", "anna@bakery.example"]);
  assert.deepEqual(problems, []);
  await page.close();
});

test("type your address: a server found under another name waits for the owner's yes; nothing found says what to do and what was tried", async () => {
  const { page, problems } = await open("plain");
  const source = page.locator('section[aria-labelledby="source-heading"]');
  await source.locator('input[name="source-user"]').fill("rosa@florist.example");
  await source.getByRole("button", { name: "Find my server" }).click();
  const caution = source.locator('[data-found="caution"]');
  await caution.waitFor();
  const words = await caution.innerText();
  assert.match(words, /comes from the certificate mail\.florist\.example showed/);
  assert.match(words, /No password was sent to it/);
  assert.equal(await source.locator('[role="radio"][aria-checked="true"]').count(), 0, "nothing is filled in before the owner says yes");
  await snap(page, "where-2-caution");
  await source.getByRole("button", { name: "Use server123.hostingco.net" }).click();
  assert.equal(await source.locator('[role="radio"][aria-checked="true"]').getAttribute("data-preset"), "other");
  assert.equal(await source.locator('input[name="source-host"]').inputValue(), "server123.hostingco.net");
  assert.match(await source.locator('[data-found="ok"]').innerText(), /Using server123\.hostingco\.net \(port 993\), as you chose\./);
  const dest = page.locator('section[aria-labelledby="destination-heading"]');
  await dest.locator('input[name="destination-user"]').fill("rosa@nowhere.example");
  await dest.getByRole("button", { name: "Find my server" }).click();
  const none = dest.locator('[data-found="none"]');
  await none.waitFor();
  assert.match(await none.innerText(), /No mail server was found for nowhere\.example/);
  await none.getByText("What MailFerry tried").click();
  assert.match(await none.innerText(), /imap\.nowhere\.example \(port 993, a usual server name\): imap\.nowhere\.example could not be found/);
  await snap(page, "where-3-not-found");
  assert.deepEqual(problems, []);
  await page.close();
});

test("the window works at its minimum size (900×600)", async () => {
  const { page } = await open("happy");
  await page.setViewportSize({ width: 900, height: 600 });
  await chooseProviders(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  assert.equal(overflow, false, "no horizontal scrolling at 900 px");
  await snap(page, "small-1-where");
  await page.close();
});

test("several mailboxes: a pasted list says what is wrong per row; a wrong password is fixed on its row (no keychain)", async () => {
  const { page, problems } = await open("no-keychain");
  await chooseProviders(page);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: "Continue to sign in" }).click();
  await signInBoth(page);
  await page.getByText("No keychain on this computer").first().waitFor();
  await snap(page, "mailboxes-3-sign-in-no-keychain");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("heading", { name: "Mailboxes" }).waitFor();
  await page.locator('textarea[name="mailbox-list"]').fill(
    "bob@example.com, bob@example.org, app-pw-1\ncarol smith@example.com, carol@example.org\ndave@example.com, dave@example.org\n");
  await page.getByRole("button", { name: "Add these mailboxes" }).click();
  const banner = page.getByRole("alert").filter({ hasText: "not added" });
  await banner.waitFor();
  assert.match(await banner.innerText(), /Row 2: "carol smith@example.com" has a space in it/);
  assert.equal(await page.locator('textarea[name="mailbox-list"]').inputValue(), "");
  await page.locator('tr[data-pair="bob@example.com"]').getByText("Ready").waitFor();
  await page.locator('tr[data-pair="dave@example.com"]').getByText("Needs passwords").waitFor();
  // One by hand, with a password the old server refuses.
  await page.locator('input[name="add-source-user"]').fill("erin@example.com");
  await page.locator('input[name="add-source-password"]').fill("wrong");
  await page.locator('input[name="add-destination-user"]').fill("erin@example.org");
  await page.locator('input[name="add-destination-password"]').fill("app-pw-2");
  await page.getByRole("button", { name: "Add this mailbox" }).click();
  const erin = page.locator('tr[data-pair-detail="erin@example.com"]');
  await erin.locator('[data-code="AuthFailed"]').waitFor();
  assert.equal(await page.locator('input[name="add-source-password"]').inputValue(), "", "typed passwords are cleared once sent");
  assert.equal(await page.getByRole("button", { name: "Continue" }).isDisabled(), true, "not every mailbox is ready");
  await snap(page, "mailboxes-4-needs-attention");
  await erin.locator('input[type="password"]').fill("right");
  await erin.getByRole("button", { name: "Sign in" }).click();
  await page.locator('tr[data-pair="erin@example.com"]').getByText("Ready").waitFor();
  const dave = page.locator('tr[data-pair-detail="dave@example.com"]');
  for (const side of ["source", "destination"]) {
    await dave.locator(`input[name$="-${side}-password"]`).fill("pw");
    await dave.getByRole("button", { name: "Sign in" }).first().click();
  }
  await page.locator('tr[data-pair="dave@example.com"]').getByText("Ready").waitFor();
  await page.getByRole("button", { name: "Continue" }).and(page.locator(":enabled")).waitFor();
  await snap(page, "mailboxes-4-ready");
  await page.setViewportSize({ width: 900, height: 600 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  assert.equal(overflow, false, "no horizontal scrolling at 900 px");
  await snap(page, "mailboxes-4-small");
  // The job is saved as the user goes (at most every half second).
  await page.waitForFunction(() => JSON.stringify(window.__savedJobs.at(-1)?.mailboxes ?? []).includes("erin@example.com"));
  const saved = await page.evaluate(() => JSON.stringify(window.__savedJobs));
  for (const secret of ["app-pw-1", "app-pw-2", "wrong", "right", "app-password"]) {
    assert.ok(!saved.includes(secret), `no password in the saved job (${secret})`);
  }
  assert.deepEqual(problems, []);
  await page.close();
});

test("continue where you left off: the saved job comes back and signs in from the keychain", async () => {
  const { page, problems } = await open("resume");
  const card = page.getByRole("region", { name: "Continue where you left off" });
  await card.waitFor();
  assert.match(await card.innerText(), /owner@example.com at imap.gmail.com/);
  assert.match(await card.innerText(), /and 2 more mailboxes/);
  await snap(page, "resume-1-continue");
  assert.match(await card.innerText(), /1 of the other 2 was copied already/);
  await card.getByRole("button", { name: "Continue this migration" }).click();
  await page.getByRole("heading", { name: "Mailboxes" }).waitFor();
  await page.locator('tr[data-pair="bob@example.com"]').getByText("Ready").waitFor();
  const office = page.locator('tr[data-pair="office@example.com"]');
  await office.getByText("Needs passwords").waitFor();
  await snap(page, "resume-4-mailboxes");
  assert.equal(await page.locator('.rail-step.done').count(), 3, "where from, connect and sign in are done");
  // The missing passwords, then the copy goes over all three mailboxes again
  // (each continues from its progress file).
  const detail = page.locator('tr[data-pair-detail="office@example.com"]');
  for (const side of ["source", "destination"]) {
    await detail.locator(`input[name$="-${side}-password"]`).fill("pw");
    await detail.getByRole("button", { name: "Sign in" }).first().click();
  }
  await office.getByText("Ready").waitFor();
  await copyAndCheck(page, "resume", 3);
  await page.getByText("Safe to switch your domain.").waitFor();
  const starts = await page.evaluate(() => window.__mock.runStarts);
  assert.deepEqual(starts[0].edits.renames, [["Receipts", "Old receipts"]], "the saved folder edits came back");
  assert.deepEqual(problems, []);
  await page.close();
});

test("browser sign-in: Microsoft 365 signs in through the browser, no password typed", async () => {
  const { page, problems } = await open("oauth");
  await chooseProviders(page);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: "Continue to sign in" }).click();
  const card = page.locator('[data-side="destination"]');
  // A password first: Microsoft 365 has password sign-in switched off,
  // and the answer leads straight to the browser sign-in.
  await card.locator('input[name="destination-password"]').fill("app-password");
  await card.getByRole("button", { name: "Sign in", exact: true }).click();
  const off = card.locator("[data-basic-auth-off]");
  await off.waitFor();
  assert.match(await off.innerText(), /password sign-in switched off/);
  await snap(page, "oauth-2-basic-auth-off");
  const button = off.getByRole("button", { name: "Sign in with Microsoft in your browser" });
  await button.click();
  await card.getByRole("button", { name: "Waiting for your browser…" }).waitFor();
  await snap(page, "oauth-3-waiting");
  await card.locator('[data-step="can_read_folders"].ok').waitFor();
  await card.getByText("kept in this computer's keychain").waitFor();
  assert.equal(await card.locator('input[type="password"]').count(), 0, "no password field once signed in");
  await snap(page, "oauth-3-signed-in");
  assert.deepEqual(problems, []);
  await page.close();
});

test("your own app registration: without one no browser sign-in is offered; entering a client ID offers it", async () => {
  const { page, problems } = await open("happy");
  await chooseProviders(page);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: "Continue to sign in" }).click();
  const card = page.locator('[data-side="destination"]');
  const browserButton = card.getByRole("button", { name: "Sign in with Microsoft in your browser" });
  assert.equal(await browserButton.count(), 0, "this copy has no client ID");
  assert.match(await card.locator("[data-no-registration]").innerText(), /built without its own registration with Microsoft/);
  // "How to get one": the provider's own page, in the system browser.
  await page.locator('[data-side="source"]').getByRole("button", { name: "Open the page to create one" }).click();
  assert.deepEqual(await page.evaluate(() => window.__openedPages), ["gmail"]);
  await page.getByText("Sign in through the browser with your own app registration").click();
  await page.locator('input[name="oauth-client-id"]').fill("00000000-1111-2222-3333-444444444444");
  await page.getByRole("button", { name: "Use this registration" }).click();
  await page.getByText("Browser sign-in with Microsoft now uses your registration; MailFerry keeps it for next time.").waitFor();
  await browserButton.waitFor();
  assert.equal(await card.locator("[data-no-registration]").count(), 0);
  // Only Microsoft's: Gmail's card still says it has none.
  assert.equal(await page.locator('[data-side="source"] [data-no-registration]').count(), 1);
  await snap(page, "own-client-3-sign-in");
  assert.deepEqual(problems, []);
  await page.close();
});

/** Through connect and sign-in to the scan screen, Gmail to Microsoft 365. */
async function toScan(page) {
  await chooseProviders(page);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: "Continue to sign in" }).click();
  await signInBoth(page);
  await page.getByRole("button", { name: "Continue" }).click(); // sign in
  await page.getByRole("button", { name: "Continue" }).click(); // mailboxes
  await page.getByRole("heading", { name: "Scan" }).waitFor();
}

const mock = (page) => page.evaluate(() => JSON.parse(JSON.stringify(window.__mock)));

test("scan: the estimate in words, the folders as an accessible chart, the largest messages with the too-large one flagged", async () => {
  const { page, problems } = await open("happy");
  await toScan(page);
  assert.equal(await page.locator("[data-estimate]").innerText(), "About 3 hours: Microsoft 365 accepts about 3,600 messages an hour.");
  const chart = page.getByRole("img", { name: /Biggest folders/ });
  await chart.waitFor();
  assert.equal(await chart.locator("rect.chart-bar").count(), 5, "one bar per folder");
  const description = await page.locator("#chart-desc").textContent();
  assert.match(description, /\[Gmail\]\/All Mail: 40 messages, 173\.6 MB/);
  const widths = await chart.locator("rect.chart-bar").evaluateAll((bars) => bars.map((b) => Number(b.getAttribute("width"))));
  assert.ok(widths[0] > widths[1] && widths[1] > widths[4], `bars shrink with size: ${widths}`);
  const largest = page.locator("[data-largest] tbody tr");
  assert.equal(await largest.count(), 3);
  assert.match(await largest.first().innerText(), /Scanned invoices 2023[\s\S]*too large/);
  assert.equal(await page.locator("[data-largest] tr.attention").count(), 1, "only the one over the limit");
  await page.getByText(/larger than Microsoft 365 accepts/).waitFor();
  await snap(page, "scan-5-estimate-and-chart");
  await page.setViewportSize({ width: 900, height: 600 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  assert.equal(overflow, false, "the scan fits at 900 px");
  await snap(page, "small-5-scan");
  assert.deepEqual(problems, []);
  await page.close();
});

test("folder map: rename by keyboard, leave out, bring back, a conflict blocks until undone; the edits reach the copy", async () => {
  const { page, problems } = await open("happy");
  await toScan(page);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByText("6 folders, 3 skipped").waitFor();
  // Side by side: the subfolder is indented under its parent on both sides.
  const acme = page.locator('[data-folder="Clients/Acme"] td.tree').first();
  assert.equal((await acme.innerText()).trim(), "Acme");
  // Rename with the keyboard only.
  await page.getByRole("button", { name: "Rename Receipts on the new server" }).focus();
  await page.keyboard.press("Enter");
  const input = page.getByLabel("New name for Receipts");
  await input.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), "rename-input", "the field has the focus");
  await input.fill("Old receipts");
  await page.keyboard.press("Enter");
  await page.locator('[data-folder="Receipts"]').getByText("renamed by you").waitFor();
  await page.locator('[data-folder="Receipts"]').getByText("Old receipts").waitFor();
  const focused = () => page.evaluate(() => document.activeElement?.getAttribute("aria-label"));
  assert.equal(await focused(), "Rename Receipts on the new server", "the focus goes back to the row");
  await page.keyboard.press("Enter");
  await page.getByLabel("New name for Receipts").press("Escape");
  assert.equal(await focused(), "Rename Receipts on the new server", "Escape closes the field, focus back");
  await page.getByRole("button", { name: "Leave out Clients/Acme" }).click();
  await page.locator('[data-folder="Clients/Acme"]').getByText("left out by you").waitFor();
  await page.getByRole("button", { name: "Copy [Gmail]/Spam after all" }).click();
  await page.locator('[data-folder="[Gmail]/Spam"]').getByText("brought back by you").waitFor();
  await page.getByText("3 changes of yours").waitFor();
  await snap(page, "folder-map-6-edited");
  // A rename onto an existing destination: two folders into one.
  await page.getByRole("button", { name: "Rename INBOX on the new server" }).click();
  await page.getByLabel("New name for INBOX").fill("Sent Items");
  await page.getByRole("button", { name: "Save" }).click();
  await page.locator("[data-conflicts]").getByText("Needs a decision").waitFor();
  assert.equal(await page.locator("tr.conflict").count(), 2, "both folders are highlighted");
  assert.ok(await page.getByRole("button", { name: "Continue" }).isDisabled(), "nothing is copied with an open question");
  await snap(page, "folder-map-6-conflict");
  // Merging settles it; "Ask me instead" brings the question back.
  await page.getByRole("button", { name: "Copy them into one folder" }).click();
  await page.locator("[data-merging]").waitFor();
  await page.locator("[data-conflicts]").waitFor({ state: "detached" });
  assert.equal((await mock(page)).folderMapCalls.at(-1).merge, true);
  await page.getByRole("button", { name: "Ask me instead" }).click();
  await page.locator("[data-conflicts]").waitFor();
  await page.getByRole("button", { name: "Undo your change to INBOX" }).click();
  await page.locator("[data-conflicts]").waitFor({ state: "detached" });
  const calls = (await mock(page)).folderMapCalls;
  assert.deepEqual(calls.at(-1), {
    renames: [["Receipts", "Old receipts"]],
    excluded: ["Clients/Acme"],
    included: ["[Gmail]/Spam"],
    merge: false,
  });
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: /Copy mail to/ }).click();
  await page.locator('[data-state="finished"]').waitFor();
  const starts = (await mock(page)).runStarts;
  assert.deepEqual(starts[0].edits, calls.at(-1), "the copy uses the map the user saw");
  // The edits and the plan's progress are saved with the job, so closing
  // the app loses neither.
  await page.waitForFunction(() => window.__savedJobs.at(-1)?.folder_map?.done?.bulk === true);
  const saved = await page.evaluate(() => window.__savedJobs.at(-1).folder_map);
  assert.deepEqual(saved.edits, calls.at(-1));
  assert.equal(saved.stage, "delta", "the next stage is the catch-up");
  await page.setViewportSize({ width: 900, height: 600 });
  await page.getByRole("button", { name: "Back" }).click();
  await page.getByText("3 changes of yours").waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  assert.equal(overflow, false, "the folder map fits at 900 px");
  await snap(page, "small-6-folder-map");
  assert.deepEqual(problems, []);
  await page.close();
});

test("copy: the staged plan, bulk without big messages, catch-up, the big-message pass, the DNS check and cutover checklist, final catch-up", async () => {
  const { page, problems } = await open("happy");
  await toScan(page);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: "Continue" }).click();
  const timeline = page.getByRole("list", { name: "The plan" });
  assert.deepEqual(
    (await timeline.locator("li").allInnerTexts()).map((t) => t.trim()),
    ["1. Copy everything now", "2. Catch up", "3. Big messages", "4. Switch your domain", "5. Final catch-up"],
  );
  await page.getByRole("button", { name: /Copy mail to/ }).click();
  await page.locator("[data-rate]").waitFor();
  assert.match(await page.locator("[data-awake]").innerText(), /^MailFerry keeps this computer awake until the copy ends\./);
  // Each folder's own speed: 14 messages in 0.9 s.
  assert.match(await page.locator("tr", { hasText: "INBOX" }).last().innerText(), /14 of 14[\s\S]*15\.6/);
  await snap(page, "copy-7-bulk-running");
  await page.locator('[data-state="finished"]').waitFor();
  await page.locator('[data-stage="bulk"].done').waitFor();
  assert.equal(await page.locator("[data-awake]").count(), 0, "nothing said once the copy stopped");
  await page.locator('[data-stage-card="delta"]').waitFor();
  await page.getByRole("button", { name: "Catch up now" }).click();
  await page.locator('[data-stage="delta"].done').waitFor();
  await page.getByRole("button", { name: "Copy the big messages" }).click();
  await page.locator('[data-stage="large"].done').waitFor();
  await page.locator('[data-stage-card="switch"]').waitFor();
  assert.equal(await page.locator('input[name="domain"]').inputValue(), "example.com", "the domain from the address");
  await page.locator('input[name="domain"]').fill("my company");
  await page.getByRole("button", { name: "Check its mail records" }).click();
  await page.locator('[data-code="InvalidInput"]').getByText("the part of your address after the @").waitFor();
  await page.locator('input[name="domain"]').fill("example.com");
  await page.getByRole("button", { name: "Check its mail records" }).click();
  const mx = page.locator("[data-mx]");
  await mx.getByText("aspmx.l.google.com").first().waitFor();
  assert.match(await mx.innerText(), /24 hours[\s\S]*lower it to 5 minutes at least 48 hours before you switch/);
  const switched = page.getByRole("button", { name: "The domain is switched" });
  assert.ok(await switched.isDisabled(), "not before the checklist is ticked");
  for (const label of [/lower the time to live/, /Point the MX records/, /Wait for the old time to live/]) {
    await page.getByLabel(label).check();
  }
  await snap(page, "copy-7-cutover-checklist");
  await switched.click();
  await page.getByRole("button", { name: "Catch up now" }).click();
  await page.locator('[data-stage="final"].done').waitFor();
  const starts = (await mock(page)).runStarts.map((s) => s.skipLargerThan);
  assert.deepEqual(starts, [10_485_760, 10_485_760, null, null], "big messages wait for their own pass, then come");
  const switches = (await mock(page)).runStarts.map((s) => s.afterSwitch);
  assert.deepEqual(switches, [false, false, false, true], "the catch-up after the switch records it: only adds from then on");
  // Then the old server is watched for every mailbox, with the records seen before the switch.
  const watch = page.locator("[data-watch]");
  await watch.getByText("Mail still arriving at the old server: 1 today, last at 14:02").waitFor();
  assert.match(await watch.locator("[data-watched]").first().innerText(), /INBOX, Junk as mail arrives[\s\S]*1 message moved/);
  assert.match(await watch.locator("[data-awake]").innerText(), /keeps this computer awake until the watch ends/);
  assert.deepEqual((await mock(page)).watchStarts.map(({ mailDomain, oldMx }) => ({ mailDomain, oldMx })), [
    { mailDomain: "example.com", oldMx: ["aspmx.l.google.com", "alt1.aspmx.l.google.com"] },
  ], "watched once, with the records seen before the switch");
  await watch.screenshot({ path: join(shots, "copy-7-watching.png") });
  await snap(page, "copy-7-all-stages-done");
  await watch.getByRole("button", { name: "Stop watching" }).click();
  await watch.locator("[data-watch-end]").getByText("The watch was stopped.").waitFor();
  assert.equal(await watch.getByRole("button", { name: "Stop watching" }).count(), 0);
  await page.setViewportSize({ width: 900, height: 600 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  assert.equal(overflow, false, "the copy screen fits at 900 px");
  await snap(page, "small-7-copy");
  assert.deepEqual(problems, []);
  await page.close();
});

test("throttled run: the copy says it waits and when it resumes, then finishes", async () => {
  const { page, problems } = await open("throttled");
  await toScan(page);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: /Copy mail to/ }).click();
  const waiting = page.locator("[data-waiting]");
  await waiting.waitFor();
  const expected = await page.evaluate(() => { const d = new Date(); d.setHours(14, 32, 0, 0); return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }); });
  assert.match(await waiting.innerText(), new RegExp(`Waiting — resuming at ${expected}\\.`));
  assert.match(await waiting.innerText(), /downloaded too much today/);
  assert.equal(await waiting.getAttribute("role"), "status", "announced, not an alert");
  await snap(page, "throttled-7-waiting");
  await page.locator('[data-state="finished"]').waitFor();
  assert.equal(await waiting.count(), 0, "the wait is gone once the copy goes on");
  assert.deepEqual(problems, []);
  await page.close();
});

test("connection lost during the copy: plain words, details on demand, Resume finishes it", async () => {
  const { page, problems } = await open("lost");
  await toScan(page);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: /Copy mail to/ }).click();
  const alert = page.locator('[data-code="ConnectionLost"]');
  await alert.waitFor();
  assert.match(await alert.locator("p").innerText(), /The connection to imap\.gmail\.com was closed while copying messages/);
  assert.equal(await alert.getByText("connection reset by peer").isVisible(), false, "details stay folded");
  await page.locator('[data-state="failed"]').waitFor();
  assert.ok(await page.getByRole("button", { name: "Check the result" }).isDisabled());
  assert.ok(await page.getByRole("button", { name: /Copy mail to/ }).isDisabled(), "resume, not a second start");
  await snap(page, "lost-7-copy-failed");
  await page.getByRole("button", { name: "Resume" }).click();
  await page.locator('[data-state="finished"]').waitFor();
  await page.locator('[data-stage="bulk"].done').waitFor();
  assert.equal(await alert.count(), 0, "the problem is gone once the copy finished");
  assert.deepEqual(problems, []);
  await page.close();
});

test("a reloaded window re-attaches to the domain's copy the shell is running, and starts nothing anew", async () => {
  const { page, problems } = await open("reattach");
  await page.getByRole("button", { name: "Try it on demo servers" }).click();
  await page.getByRole("button", { name: "Continue to sign in" }).click();
  await signInBoth(page);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: "Paste the demo list" }).click();
  await page.getByRole("button", { name: "Add these mailboxes" }).click();
  await page.locator('tr[data-pair="office"]').getByText("Ready").waitFor();
  await page.getByRole("button", { name: "Continue" }).click(); // mailboxes
  await page.getByRole("button", { name: "Continue" }).click(); // scan
  await page.getByText("6 folders, 3 skipped").waitFor();
  await page.getByRole("button", { name: "Continue" }).click(); // folder map
  await page.getByRole("button", { name: /Copy mail to/ }).click();
  await page.locator('[data-mailbox-state="copying"]').first().waitFor();
  assert.equal((await mock(page)).runStarts.length, 1);
  await page.reload();
  // Back on the copy screen, watching the same copy: still running.
  await page.getByRole("heading", { name: "Copy", exact: true }).waitFor();
  await page.locator('[data-mailbox-state="copying"]').first().waitFor();
  assert.equal(await page.locator(".mailbox-runs li").count(), 3, "every mailbox of the copy");
  assert.equal(await page.locator('[data-stage="bulk"].current').count(), 1, "the stage being copied");
  assert.ok(await page.getByRole("button", { name: /Copy mail to/ }).isDisabled(), "no second start while it runs");
  await snap(page, "reattach-7-after-reload");
  await page.locator('[data-mailbox-state="finished"]').nth(2).waitFor();
  await page.locator('[data-stage="bulk"].done').waitFor();
  assert.equal((await mock(page)).runStarts.length, 0, "the reloaded window started no copy");
  await page.getByRole("button", { name: "Check the result" }).click();
  await page.getByText("Safe to switch your domain.").waitFor();
  assert.deepEqual(problems, []);
  await page.close();
});

test("a damaged progress file: the copy says so in plain words and offers to rebuild it and continue", async () => {
  const { page, problems } = await open("damaged");
  await toScan(page);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: /Copy mail to/ }).click();
  const alert = page.locator('[data-code="ProgressDamaged"]');
  await alert.waitFor();
  assert.match(await alert.locator("p").innerText(), /progress file for this mailbox is damaged/);
  await page.locator("[data-rebuild]").getByText("the damaged file is kept beside it").waitFor();
  assert.equal(await page.getByRole("button", { name: "Resume" }).count(), 0, "a plain resume would stop again");
  await snap(page, "damaged-7-copy");
  await page.getByRole("button", { name: "Rebuild and continue" }).click();
  await page.locator('[data-state="finished"]').waitFor();
  await page.locator('[data-stage="bulk"].done').waitFor();
  const resumes = (await mock(page)).resumes;
  assert.equal(resumes.length, 1);
  assert.equal(resumes[0].rebuildProgress, true, "the resume asks for the rebuild");
  assert.equal(await alert.count(), 0, "the problem is gone once the copy finished");
  assert.deepEqual(problems, []);
  await page.close();
});

test("a whale: a mailbox over 10 GB says so and the estimate is in days", async () => {
  const { page, problems } = await open("big");
  await toScan(page);
  await page.locator("[data-whale]").getByText("A big mailbox (over 10 GB): copy it in stages").waitFor();
  assert.equal(await page.locator("[data-estimate]").innerText(), "About 6 days: Gmail allows about 2.5 GB of downloads a day.");
  await snap(page, "big-5-scan-whale");
  assert.deepEqual(problems, []);
  await page.close();
});

test("every mailbox of the domain: the directory lists them with flags, a decision per row, kept as files with progress, left ones listed, old files brought in", async () => {
  const { page, problems } = await open("directory");
  await toMailboxes(page);

  // Microsoft 365 without the organisation's own app: plain words, nothing added.
  await page.getByRole("button", { name: "List every mailbox…" }).click();
  await page.getByRole("radio", { name: "Microsoft 365" }).check();
  await page.locator('input[name="directory-tenant"]').fill("other.example");
  await page.getByRole("button", { name: "List the mailboxes" }).click();
  await page.locator('.directory [data-code="OAuthUnavailable"]').waitFor();
  assert.match(await page.locator(".directory .problem").innerText(), /on the sign-in screen/);
  assert.equal(await page.locator("table.pairs tbody tr[data-pair]").count(), 1);

  // Google Workspace: the service account's key file and an administrator.
  await page.getByRole("radio", { name: "Google Workspace" }).check();
  assert.equal(await page.locator(".directory .problem").count(), 0, "the other directory's problem is gone");
  await fillGoogleDirectory(page);
  await snap(page, "directory-4-form");
  await page.getByRole("button", { name: "List the mailboxes" }).click();
  const result = page.locator("[data-directory-result]");
  await result.waitFor();
  assert.match(await result.innerText(), /Google Workspace lists 5 mailboxes\./);
  assert.equal((await mock(page)).directory.at(-1).admin, "owner@example.com");
  assert.equal(await page.locator("table.pairs tbody tr[data-pair]").count(), 5, "the owner's own mailbox is not repeated");
  // Flagged in plain words, and left until the owner decides.
  const ben = page.locator('tr[data-pair="ben@example.com"]');
  assert.deepEqual(await ben.locator("[data-flag]").allInnerTexts(), ["Sign-in blocked or suspended", "No sign-in for 14 months"]);
  assert.equal(await ben.locator("select.decision").inputValue(), "leave");
  await ben.getByText("Left as it is").waitFor();
  assert.deepEqual(await page.locator('tr[data-pair="printer@example.com"] [data-flag]').allInnerTexts(), ["Never signed in"]);
  assert.equal(await page.locator('tr[data-pair="anna@example.com"] select.decision').inputValue(), "move");
  // The administrator sign-in that read the list signs in every mailbox to
  // move at the old server: no password each; the new server still needs one.
  await page.locator('tr[data-pair="anna@example.com"]').getByText("Needs its new password").waitFor();
  assert.equal(await page.locator('tr[data-pair="anna@example.com"] [data-by-admin]').count(), 1);
  assert.deepEqual(await page.locator("tr[data-pair] [data-by-admin]").evaluateAll((els) => els.map((e) => e.closest("tr").dataset.pair)),
    ["anna@example.com", "sales@example.com"], "the rows to move, not the ones left");
  assert.deepEqual((await mock(page)).listedSignIns, ["anna@example.com", "sales@example.com"], "flagged rows left alone are not signed in");
  assert.equal(await page.locator('tr[data-pair-detail="anna@example.com"] label').innerText(), "Password for anna@example.com at Microsoft 365");
  assert.match(await result.innerText(), /signs in at Gmail with your administrator sign-in, no password needed/);
  // The storage each one uses, from the directory's usage report, and how long the ones to move take.
  assert.equal(await page.locator('tr[data-pair="anna@example.com"] [data-storage]').innerText(), "2.3 GB used");
  assert.equal(await page.locator('tr[data-pair="printer@example.com"] [data-storage]').count(), 0, "no figure, no size");
  const sized = page.locator("[data-size-estimate]");
  await sized.getByText(/11\.4 GB in all/).waitFor();
  assert.match(await sized.innerText(), /The biggest, sales@example\.com \(9\.1 GB\), decides how long: About 4 days/);
  await snap(page, "directory-4-mailboxes-listed");

  // Decisions per row: Anna kept as files only (nothing more to type), Sales moved and kept.
  await page.getByRole("combobox", { name: "What happens to anna@example.com" }).selectOption("keep");
  await page.locator('tr[data-pair="anna@example.com"]').getByText("Ready").waitFor();
  await sized.getByText(/9\.1 GB in all/).waitFor(); // Anna is no longer moved
  const anna = page.locator('tr[data-pair-detail="anna@example.com"]');
  assert.equal(await anna.count(), 0, "keeping needs only the old mailbox, signed in already");
  // A row can still sign in with its own password instead.
  await page.getByRole("button", { name: "Use the password of anna@example.com instead" }).click();
  assert.equal(await anna.locator('input[type="password"]').count(), 1);
  await anna.locator('input[type="password"]').fill("pw");
  await anna.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.locator('tr[data-pair="anna@example.com"]').getByText("Ready").waitFor();
  assert.equal(await page.locator('tr[data-pair="anna@example.com"] [data-by-admin]').count(), 0, "signed in by its password now");
  // A row left at first can use the administrator sign-in later; a refusal is said on its row.
  await page.getByRole("combobox", { name: "What happens to printer@example.com" }).selectOption("keep");
  const printer = page.locator('tr[data-pair-detail="printer@example.com"]');
  await printer.getByRole("button", { name: "Sign in with your administrator sign-in" }).click();
  await printer.locator('[data-code="OrganisationAccessRefused"]').waitFor();
  assert.match(await printer.locator(".problem").innerText(), /Domain-wide delegation/);
  await snap(page, "directory-4-admin-refused");
  await page.getByRole("combobox", { name: "What happens to printer@example.com" }).selectOption("leave");
  assert.equal(await page.locator('tr[data-pair="anna@example.com"] td').nth(2).innerText(), "—", "not moved: no new address");
  // A listed row's passwords pasted as a list: signed in on its row, not added twice.
  await page.locator('textarea[name="mailbox-list"]').fill("sales@example.com, sales@example.com, sales-pw\n");
  await page.getByRole("button", { name: "Add these mailboxes" }).click();
  await page.locator('tr[data-pair="sales@example.com"]').getByText("Ready").waitFor();
  assert.equal(await page.locator('tr[data-pair="sales@example.com"]').count(), 1);
  assert.equal(await page.getByRole("alert").filter({ hasText: "not added" }).count(), 0);
  assert.deepEqual(await page.locator('tr[data-pair="sales@example.com"] [data-flag]').allInnerTexts(), []);
  await page.getByRole("combobox", { name: "What happens to sales@example.com" }).selectOption("move_and_keep");
  await page.locator('tr[data-pair="sales@example.com"]').getByText("Ready").waitFor();
  await page.getByRole("button", { name: "Continue" }).and(page.locator(":enabled")).waitFor();
  assert.equal(
    (await page.locator("[data-summary]").innerText()).replace(/\s+/g, " ").trim(),
    "2 mailboxes to move, 2 mailboxes to keep as files on this computer, 2 mailboxes left as they are (listed in the report). Nothing is copied or written before you press the button on the Copy step.",
  );
  await page.waitForFunction(() => window.__mock.decisions?.some((d) => d.source_user === "anna@example.com" && d.decision === "keep"));
  const decisions = Object.fromEntries((await mock(page)).decisions.map((d) => [d.source_user, d.decision]));
  assert.deepEqual(decisions, {
    "owner@example.com": "move", "anna@example.com": "keep", "ben@example.com": "leave",
    "printer@example.com": "leave", "sales@example.com": "move_and_keep",
  });
  await snap(page, "directory-4-decisions");
  await page.setViewportSize({ width: 900, height: 600 });
  await snap(page, "directory-4-decisions-small");
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth), false, "no horizontal scrolling at 900 px");
  await page.setViewportSize({ width: 1100, height: 720 });

  // The copy step: only the moved mailboxes are copied; the kept ones are written as files.
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("heading", { name: "Scan" }).waitFor();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByText("6 folders, 3 skipped").waitFor();
  await page.getByRole("button", { name: "Continue" }).click();
  assert.equal(await page.locator("[data-mailbox]").count(), 2, "the owner's and Sales' mailboxes are moved");
  const keep = page.locator("[data-keep]");
  assert.match(await keep.locator("[data-left]").innerText(), /ben@example\.com, printer@example\.com/);
  await keep.getByRole("radio", { name: /One file per folder \(mbox\)/ }).check();
  await snap(page, "directory-7-keep-before");
  await keep.getByRole("button", { name: "Choose a folder and keep 2 mailboxes…" }).click();
  await keep.locator('[data-kept="sales@example.com"][data-kept-state="working"]').waitFor();
  assert.match(await keep.locator('[data-kept="sales@example.com"] .hint').innerText(), /Folder 4 of 6 \(Receipts\) · 310 messages written/);
  await snap(page, "directory-7-keep-running");
  const kept = keep.locator("[data-kept-result]");
  await kept.waitFor();
  assert.equal(await kept.innerText(), "2 mailboxes kept as files in /home/owner/Documents/Mail kept. Your mail program opens them; nothing was changed at the old server.");
  const asked = (await mock(page)).kept[0];
  assert.equal(asked.format, "mbox");
  assert.equal(asked.handles.length, 2, "Anna and Sales");
  await snap(page, "directory-7-keep-done");

  // Old mail files into a new mailbox: shown first, then copied.
  const importing = page.locator("[data-import]");
  await importing.getByRole("button", { name: "Choose a file…" }).click();
  const found = importing.locator("[data-found]");
  await found.waitFor();
  assert.match(await found.innerText(), /Google Takeout's mbox: 1,873 messages in 5 folders/);
  await snap(page, "directory-7-import-found");
  await importing.getByRole("button", { name: "Copy 1,873 messages into owner@example.com" }).click();
  const imported = importing.locator("[data-import-result]");
  await imported.waitFor();
  assert.equal(await imported.innerText(), "1,873 messages brought into owner@example.com.");
  assert.equal((await mock(page)).imported[0].found, 900);
  await snap(page, "directory-7-import-done");

  await page.getByRole("button", { name: /Copy mail to/ }).click();
  await page.waitForFunction(() => window.__mock.domainPairs?.length > 0);
  assert.equal((await mock(page)).domainPairs.length, 2, "kept-only and left mailboxes are not copied");
  assert.deepEqual(problems, []);
  await page.close();
});

test("a reloaded window keeps every mailbox's decision: on continuing the saved job and while the copy runs", async () => {
  const { page, problems } = await open("directory");
  await toMailboxes(page);
  await page.getByRole("button", { name: "List every mailbox…" }).click();
  await fillGoogleDirectory(page);
  await page.getByRole("button", { name: "List the mailboxes" }).click();
  await page.locator('tr[data-pair="anna@example.com"]').getByText("Needs its new password").waitFor();
  await page.getByRole("combobox", { name: "What happens to owner@example.com" }).selectOption("move_and_keep");
  await page.getByRole("combobox", { name: "What happens to anna@example.com" }).selectOption("keep");
  await page.getByRole("combobox", { name: "What happens to sales@example.com" }).selectOption("move_and_keep");
  await page.getByRole("combobox", { name: "What happens to ben@example.com" }).selectOption("keep");
  await page.getByRole("combobox", { name: "What happens to ben@example.com" }).selectOption("leave");
  const decided = {
    "owner@example.com": "move_and_keep", "anna@example.com": "keep", "ben@example.com": "leave",
    "printer@example.com": "leave", "sales@example.com": "move_and_keep",
  };
  const shown = async () =>
    Object.fromEntries(await page.locator("tr[data-pair] select.decision").evaluateAll((els) =>
      els.map((e) => [e.closest("tr").dataset.pair, e.value])));
  assert.deepEqual(await shown(), decided);
  // The window saves at most every half second: wait for the save that
  // holds the last change (Ben's), not an earlier one.
  await page.waitForFunction((decided) => {
    const job = window.__savedJobs.at(-1);
    // The owner's mailbox is the job's first (first_keep), the others are listed.
    return job?.first_keep && Object.entries(decided).slice(1).every(([user, decision]) =>
      job.mailboxes.find((m) => m.source_user === user)?.decision === decision);
  }, decided);

  // Reloaded before the copy: the saved job comes back as it was decided.
  await page.reload();
  const card = page.getByRole("region", { name: "Continue where you left off" });
  await card.getByRole("button", { name: "Continue this migration" }).click();
  await page.getByRole("heading", { name: "Mailboxes" }).waitFor();
  await page.locator('tr[data-pair="anna@example.com"]').getByText("Ready").waitFor();
  assert.deepEqual(await shown(), decided, "every decision as it was, the kept and left ones included");
  assert.deepEqual(await page.locator('tr[data-pair="ben@example.com"] [data-flag]').allInnerTexts(), ["Sign-in blocked or suspended", "No sign-in for 14 months"]);
  assert.equal(await page.locator('tr[data-pair="ben@example.com"] .person').innerText(), "Ben Old");
  assert.equal(await page.locator('tr[data-pair="ben@example.com"] [data-storage]').innerText(), "41.9 MB used");
  assert.equal(await page.locator('tr[data-pair="anna@example.com"] [data-by-admin]').count(), 1, "signed in again with the administrator sign-in");
  await snap(page, "reload-4-decisions-kept");

  // Reloaded while the copy runs: back on the copy screen, the kept and left ones with it.
  const sales = page.locator('tr[data-pair-detail="sales@example.com"]');
  await sales.locator('input[type="password"]').fill("pw");
  await sales.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.locator('tr[data-pair="sales@example.com"]').getByText("Ready").waitFor();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("heading", { name: "Scan" }).waitFor();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByText("6 folders, 3 skipped").waitFor();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: /Copy mail to/ }).click();
  await page.locator('[data-mailbox-state="copying"]').first().waitFor();
  await page.reload();
  await page.getByRole("heading", { name: "Copy", exact: true }).waitFor();
  const keep = page.locator("[data-keep]");
  await keep.getByRole("button", { name: "Choose a folder and keep 3 mailboxes…" }).and(page.locator(":enabled")).waitFor();
  assert.match(await keep.innerText(), /3 mailboxes to keep/);
  assert.equal(await keep.locator("[data-keep-missing]").count(), 0, "each kept mailbox signed in again");
  assert.match(await keep.locator("[data-left]").innerText(), /ben@example\.com, printer@example\.com/);
  assert.equal(await page.locator("[data-mailbox]").count(), 2, "the owner's and Sales' mailboxes are moved");
  await snap(page, "reload-7-decisions-kept");
  assert.equal((await mock(page)).runStarts.length, 0, "the reloaded window started no copy");
  assert.deepEqual(problems, []);
  await page.close();
});
