// Drives the status page (/ui) in Debian's chromium through puppeteer-core.
// Run by tests/integration/test_ui.py, which owns edgehook and the sinks:
//   node status_page.js SCENARIO BASE_URL ARTIFACT_DIR [EVENT_ID]
// It prints one JSON line per step on stdout; on a line {"wait": STEP} it
// reads one line from stdin before going on (the test changes the world
// meanwhile). Exit 0: the scenario held; otherwise a screenshot is saved
// in ARTIFACT_DIR and the reason goes to stderr.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');
const puppeteer = require('puppeteer-core');

const [scenario, base, artifacts, arg] = process.argv.slice(2);
// replay: the dead letter to replay, then the one left to recover
const [eventId, otherId] = (arg || '').split(',');
const origin = new URL(base).origin;
const STEP_MS = 30000;
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

function say(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }

async function waitFor(step) {
  say({ wait: step });
  const r = await lines.next();
  if (r.done) throw new Error('the test closed stdin at ' + step);
}

function check(cond, what) { if (!cond) throw new Error('check failed: ' + what); }

// The text of the table's body row whose first cell is `key`, by column
// header, or null while there is none.
async function rowOf(page, table, key) {
  return page.evaluate((table, key) => {
    const t = document.getElementById(table);
    const heads = Array.from(t.tHead ? t.tHead.rows[0].cells : []).map((c) => c.textContent);
    for (const tr of t.tBodies[0].rows) {
      const cells = Array.from(tr.cells);
      const k = cells[0].querySelector('strong, code');
      if ((k ? k.textContent : cells[0].textContent) === key) {
        const o = {};
        cells.forEach((c, i) => { o[heads[i] || c.getAttribute('data-label')] = c.textContent; });
        return o;
      }
    }
    return null;
  }, table, key);
}

async function until(page, what, fn) {
  const deadline = Date.now() + STEP_MS;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await page.waitForFunction((t) => Number(document.body.getAttribute('data-updated') || 0) > t,
      { timeout: STEP_MS }, Date.now());
  }
}

async function apiJson(page, p) {
  return page.evaluate(async (p) => {
    const tok = sessionStorage.getItem('edgehook.api_token');
    const r = await fetch('/api/v1/' + p, { headers: tok ? { Authorization: 'Bearer ' + tok } : {} });
    return r.json();
  }, p);
}

// Endpoint failing with 500, dead letter, sink recovers, Replay, healthy.
async function replay(page) {
  await page.goto(base + '/ui', { waitUntil: 'load' });
  const failing = await until(page, 'endpoint ci failing with a dead letter', async () => {
    const ep = await rowOf(page, 'endpoints', 'ci');
    const dead = await rowOf(page, 'dead', eventId);
    const other = await rowOf(page, 'dead', otherId);
    return ep && dead && other && ep.Health.startsWith('failingsince ') && dead.Endpoint === 'ci' ? { ep, dead } : null;
  });
  check(failing.ep['Last answer'].startsWith('500'), 'last answer 500: ' + failing.ep['Last answer']);
  check(failing.dead['Last answer'].startsWith('500'), 'dead letter says 500');
  check(failing.dead.Replayed === 'no', 'not replayed yet');
  // the table against the API it was rendered from
  const api = (await apiJson(page, 'endpoints')).endpoints.find((e) => e.name === 'ci');
  check(failing.ep.Delivered === String(api.delivered) && failing.ep.Failed === String(api.failed),
    'counters as the API says: ' + JSON.stringify([failing.ep, api]));
  const healthy = await rowOf(page, 'endpoints', 'ok');
  check(healthy && healthy.Health === 'healthy', 'the other endpoint healthy: ' + JSON.stringify(healthy));
  const ev = await rowOf(page, 'events', eventId);
  check(ev && /^ci: failed, 2 attempts, 500 — .*ok: delivered, 1 attempt, 200$/.test(ev.Deliveries),
    'event row: ' + JSON.stringify(ev));
  const spark = await page.$eval('#endpoints svg', (s) => s.getAttribute('aria-label'));
  check(/[1-9]\d* failed attempts/.test(spark), 'sparkline counts the failures: ' + spark);
  await page.screenshot({ path: path.join(artifacts, 'ui-failing.png'), fullPage: true });
  say({ step: 'failing', endpoint: failing.ep, dead: failing.dead });
  await waitFor('sink recovered');
  await page.click('#dead button[aria-label="Replay ' + eventId + ' to ci"]');
  const done = await until(page, 'endpoint ci healthy after the replay', async () => {
    const ep = await rowOf(page, 'endpoints', 'ci');
    const dead = await rowOf(page, 'dead', eventId);
    return ep && ep.Health === 'healthy' && dead && dead.Replayed === 'delivered' ? { ep, dead } : null;
  });
  const msg = await page.$eval('#message', (m) => m.textContent);
  check(msg.includes('Replay of ' + eventId), 'the replay was confirmed: ' + msg);
  // recover since a time: the row's button picks the endpoint; the other
  // dead letter goes again, the one the replay delivered does not
  await page.click('#endpoints button[aria-label="Recover endpoint ok since a time"]');
  await page.click('#endpoints button[aria-label="Recover endpoint ci since a time"]');
  check(await page.$eval('#recover-endpoint', (s) => s.value) === 'ci', 'the row chose the endpoint');
  await page.click('#recover-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('message').textContent.startsWith('Recover at ci'),
    { timeout: STEP_MS });
  const rec = await page.$eval('#message', (m) => m.textContent);
  check(rec === 'Recover at ci: 1 event replayed.', 'recover answered: ' + rec);
  await until(page, 'the other dead letter recovered', async () => {
    const other = await rowOf(page, 'dead', otherId);
    return other && other.Replayed === 'delivered';
  });
  say({ step: 'healthy', endpoint: done.ep, dead: done.dead });
}

// No request leaves the origin, the CSP is never violated, and at 360 px
// nothing is wider than the screen.
async function plain(page, requests) {
  await page.setViewport({ width: 360, height: 800 });
  await page.goto(base + '/ui', { waitUntil: 'load' });
  await page.waitForFunction(() => document.body.getAttribute('data-updated'), { timeout: STEP_MS });
  const first = Number(await page.evaluate(() => document.body.getAttribute('data-updated')));
  await page.waitForFunction((t) => Number(document.body.getAttribute('data-updated')) > t, { timeout: STEP_MS },
    first);
  const r = await page.evaluate(() => ({
    width: document.documentElement.scrollWidth,
    violations: window.__cspViolations,
    trigger: document.querySelector('#triggers tbody').textContent,
    runs: document.querySelector('#runs tbody').textContent,
    queue: document.querySelector('#queue tbody').textContent
  }));
  await page.screenshot({ path: path.join(artifacts, 'ui-360px.png'), fullPage: true });
  check(r.width <= 360, 'no horizontal scrolling at 360 px (' + r.width + ')');
  check(r.violations.length === 0, 'CSP violations: ' + JSON.stringify(r.violations));
  // data: URLs are no requests (chromium's own date picker icon is one)
  const foreign = requests.filter((u) => !u.startsWith('data:') && new URL(u).origin !== origin);
  check(requests.length >= 10, 'the page made its requests: ' + requests.length);
  check(foreign.length === 0, 'requests to other origins: ' + JSON.stringify(foreign));
  say({ step: 'plain', requests: requests.length, width: r.width, triggers: r.trigger, runs: r.runs, queue: r.queue });
}

// With api.token: asked once, kept for the tab, sent as a bearer token.
async function token(page) {
  await page.goto(base + '/ui', { waitUntil: 'load' });
  await page.waitForSelector('#token-form:not([hidden])', { timeout: STEP_MS });
  await page.type('#token', eventId);
  await page.click('#token-form button[type=submit]');
  await page.waitForFunction(() => document.body.getAttribute('data-updated'), { timeout: STEP_MS });
  await page.reload({ waitUntil: 'load' });
  await page.waitForFunction(() => document.body.getAttribute('data-updated'), { timeout: STEP_MS });
  const r = await page.evaluate(() => ({
    hidden: document.getElementById('token-form').hidden,
    kept: sessionStorage.getItem('edgehook.api_token'),
    rows: document.querySelector('#endpoints tbody').rows.length
  }));
  check(r.hidden && r.kept === eventId && r.rows === 1, 'token kept across a reload: ' + JSON.stringify(r));
  say({ step: 'token' });
}

// An endpoint that answered 410 Gone is disabled; Enable takes it back.
async function enable(page) {
  await page.goto(base + '/ui', { waitUntil: 'load' });
  await until(page, 'endpoint gone disabled', async () => {
    const ep = await rowOf(page, 'endpoints', 'gone');
    return ep && ep.Health.startsWith('disabled') && ep['Last answer'].startsWith('410');
  });
  await page.click('#endpoints button[aria-label="Enable endpoint gone"]');
  await until(page, 'endpoint gone enabled', async () => {
    const ep = await rowOf(page, 'endpoints', 'gone');
    return ep && !ep.Health.startsWith('disabled') && ep.Action === 'Recover…';
  });
  const api = (await apiJson(page, 'endpoints')).endpoints.find((e) => e.name === 'gone');
  check(api.disabled === false, 'the API says enabled');
  say({ step: 'enabled', message: await page.$eval('#message', (m) => m.textContent) });
}

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'edgehook-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    userDataDir: profile,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage']
  });
  let page;
  let failed = false;
  try {
    page = await browser.newPage();
    const requests = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.evaluateOnNewDocument(() => {
      window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation',
        (e) => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
    });
    if (scenario === 'replay') await replay(page);
    else if (scenario === 'plain') await plain(page, requests);
    else if (scenario === 'token') await token(page);
    else if (scenario === 'enable') await enable(page);
    else throw new Error('unknown scenario ' + scenario);
  } catch (e) {
    failed = true;
    process.stderr.write(String(e && e.stack || e) + '\n');
    if (page) {
      fs.mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: path.join(artifacts, 'ui-' + scenario + '-failed.png'), fullPage: true })
        .catch(() => {});
    }
  } finally {
    await browser.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
}

main();
