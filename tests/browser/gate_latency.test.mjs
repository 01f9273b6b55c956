// How long a passage takes on the gate screen, measured in a real Chromium against a real
// `facepay serve`: from the burst sent to the answer painted (the page's data-last-latency-ms),
// over at least 50 passages of the enrolled person (d3) at one gate. Anti-passback would refuse
// every passage after the first within 120 s, so this server's fare table has it off
// (anti_passback_s 0; everything else as the demo's). Prints
// `gate latency: n=.. median=..ms p99=..ms` and writes FACEPAY_BROWSER_OUT/gate-latency.json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, launchBrowser, makeY4m, haveData, shot, pairPage, enrol, writeTerminals, outDir,
} from './local_harness.mjs';

const PASSAGES = Number(process.env.FACEPAY_GATE_PASSAGES || 50);
let srv;
let browser;
let account;

before(async () => {
  if (!haveData()) return;
  const terminals = writeTerminals(({ fares }) => { fares.anti_passback_s = 0; });
  srv = await startServer({ args: ['--terminals', terminals], accessLog: true });
  account = await enrol(srv, 'd3', { clip: 'd3.mp4', start: 0, n: 8, fps: 10, topupMinor: 5000, phone: '4321' });
});
after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
});

function quantile(sorted, q) {  // nearest rank
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

test(`latency of ${PASSAGES} passages on the gate screen, burst sent to answer painted`, { timeout: 280000 }, async (t) => {
  if (!haveData()) return t.skip('no videos (FACEPAY_DATA_DIR)');
  // d3's calm stretch from 3 s (later on, its person turns away and the server asks for digits).
  browser = await launchBrowser(await makeY4m('d3.mp4', { start: 3, seconds: 2, fit: 'pad' }));
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await pairPage(page, srv, 'gate', 'g1', { query: '?hold_ms=250' });
  // The server's own time for each passage request: its access log's `ms` (request read to
  // answer written), from the lines logged after this point.
  const serverTimes = () => srv.stderr().split('\n').flatMap((l) => {
    const at = l.indexOf('access {');
    if (at < 0) return [];
    try {
      const a = JSON.parse(l.slice(at + 7));
      return a.route === '/v1/gates/{gate}/passages' && a.method === 'POST' ? [a.ms] : [];
    } catch { return []; }
  });
  const serverBefore = serverTimes().length;
  const samples = [];
  const started = Date.now();
  let seen = 0;
  while (samples.length < PASSAGES && Date.now() - started < 250000) {
    await page.waitForFunction((n) => Number(document.body.dataset.results || 0) > n, seen, { timeout: 60000, polling: 50 });
    const r = await page.evaluate(() => ({
      results: Number(document.body.dataset.results),
      state: document.body.dataset.state,
      outcome: document.body.dataset.lastOutcome,
      reason: document.body.dataset.lastReason,
      ms: Number(document.body.dataset.lastLatencyMs),
      attempts: Number(document.body.dataset.lastAttempts),
    }));
    if (r.results > seen + 1) t.diagnostic(`missed ${r.results - seen - 1} answer(s)`);
    seen = r.results;
    samples.push(r);
    if (samples.length === 1) await shot(page, 'gate-latency-first');
    // An unsure answer asks for the phone digits: timed like any answer, then cancelled.
    if (r.state === 'step_up') await page.click('#stepup-cancel');
  }
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const outcomes = {};
  for (const s of samples) {
    const k = s.outcome === 'refuse' ? `refuse:${s.reason}` : s.outcome;
    outcomes[k] = (outcomes[k] || 0) + 1;
  }
  const server = serverTimes().slice(serverBefore).sort((a, b) => a - b);
  const summary = {
    n: ms.length,
    median_ms: quantile(ms, 0.5),
    p90_ms: quantile(ms, 0.9),
    p99_ms: quantile(ms, 0.99),
    min_ms: ms[0],
    max_ms: ms[ms.length - 1],
    server: {
      measured: "the server's own time for each POST /v1/gates/{gate}/passages (its access log's ms: request read to answer written)",
      requests: server.length,
      median_ms: quantile(server, 0.5),
      p99_ms: quantile(server, 0.99),
    },
    outcomes,
    resent: samples.filter((s) => s.attempts > 1).length,
    wall_s: Math.round((Date.now() - started) / 1000),
    measured: 'burst sent (POST /v1/gates/g1/passages, 8 frames 640x480 JPEG) to the answer painted, in the gate page',
    machine: `${os.cpus().length} cores, ${os.cpus()[0] && os.cpus()[0].model}`,
    at: new Date().toISOString(),
    samples,
  };
  const line = `gate latency: n=${summary.n} median=${summary.median_ms}ms p99=${summary.p99_ms}ms; ` +
    `server's own: median=${summary.server.median_ms}ms p99=${summary.server.p99_ms}ms over ${server.length} requests`;
  console.log(line);
  t.diagnostic(`${line} (p90 ${summary.p90_ms} ms, max ${summary.max_ms} ms); outcomes ${JSON.stringify(outcomes)}`);
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'gate-latency.json'), JSON.stringify(summary, null, 2));
  assert.ok(ms.length >= PASSAGES, `${ms.length} passages in ${summary.wall_s} s`);
  assert.ok(ms.every((x) => Number.isFinite(x) && x > 0), 'every answer timed');
  assert.ok((outcomes.pass || 0) >= 1, JSON.stringify(outcomes));
  assert.ok(server.length >= ms.length, `the server logged ${server.length} passage requests`);
  const tx = await srv.api('GET', `/v1/accounts/${account}/transactions?limit=200`);
  const fares = tx.body.items.filter((x) => x.kind === 'fare');
  t.diagnostic(`fares charged: ${fares.length} (${fares.map((f) => f.amount_minor).join(', ')})`);
  assert.deepEqual(errors, []);
});
