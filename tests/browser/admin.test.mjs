// The operator dashboard in a real Chromium against a real `facepay serve`: the /metrics
// reading (unit tests of web/admin_metrics.js), the tiles show the passages just made through
// the API with frames of real clips, an erasure from the subjects panel makes the next gate
// passage refuse that person, and the keys panel makes a pairing code a kiosk redeems and
// revokes the key it got. Screenshots of every tab go to FACEPAY_BROWSER_OUT.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';

// web/admin_metrics.js is a browser module (.js, no package.json "type" needed there): node
// imports its source as a module text.
const metricsSource = fs.readFileSync(new URL('../../web/admin_metrics.js', import.meta.url), 'utf8');
const { parsePrometheus, summarize, histogramQuantile, counterDelta, Series } =
  await import(`data:text/javascript;base64,${Buffer.from(metricsSource).toString('base64')}`);
import { startServer, launchBrowser, makeY4m, haveData, frames, shot, waitState } from './local_harness.mjs';

const SAMPLE = `# HELP facepay_decisions_total Biometric decisions by flow, outcome and reason.
# TYPE facepay_decisions_total counter
facepay_decisions_total{flow="passage",outcome="accept",reason=""} 5
facepay_decisions_total{flow="passage",outcome="reject",reason="no_match"} 2
facepay_decisions_total{flow="passage",outcome="reject",reason="spoof"} 1
facepay_decisions_total{flow="passage",outcome="step_up",reason=""} 2
facepay_decisions_total{flow="payment",outcome="reject",reason="spoof"} 1
facepay_http_request_duration_seconds_bucket{method="POST",route="/v1/gates/{gate}/passages",le="0.05"} 2
facepay_http_request_duration_seconds_bucket{method="POST",route="/v1/gates/{gate}/passages",le="0.1"} 8
facepay_http_request_duration_seconds_bucket{method="POST",route="/v1/gates/{gate}/passages",le="+Inf"} 10
facepay_http_request_duration_seconds_count{method="POST",route="/v1/gates/{gate}/passages"} 10
facepay_http_request_duration_seconds_bucket{method="GET",route="/v1/stats",le="0.05"} 99
facepay_ledger_fare_revenue_minor 1250
facepay_ledger_merchant_balance_minor{account="shop:a\\"b"} 7
`;

test('admin_metrics: parses the exposition text and sums what the tiles show', () => {
  const samples = parsePrometheus(SAMPLE);
  assert.equal(samples.find((s) => s.name === 'facepay_ledger_merchant_balance_minor').labels.account, 'shop:a"b');
  const s = summarize(samples);
  assert.deepEqual(s.passages, { accept: 5, reject: 3, step_up: 2 });
  assert.equal(s.spoof, 2);
  assert.equal(s.revenueMinor, 1250);
  assert.deepEqual(s.latency.buckets, [[0.05, 2], [0.1, 8], [Infinity, 10]]);
  assert.equal(s.latency.count, 10);
});

test('admin_metrics: quantiles interpolate like Prometheus, counters survive a restart', () => {
  const b = [[0.05, 2], [0.1, 8], [Infinity, 10]];
  assert.ok(Math.abs(histogramQuantile(0.5, b) - (0.05 + 0.05 * (3 / 6))) < 1e-12);
  assert.equal(histogramQuantile(0.99, b), 0.1);  // in +Inf: the highest finite bound
  assert.equal(histogramQuantile(0.5, []), null);
  assert.equal(histogramQuantile(0.5, [[0.1, 0], [Infinity, 0]]), null);
  assert.equal(counterDelta(5, 8), 3);
  assert.equal(counterDelta(8, 2), 2);  // went down: restarted, all new
  const series = new Series(10);
  assert.equal(series.push(SAMPLE, 100), null);
  const later = SAMPLE.replace('outcome="accept",reason=""} 5', 'outcome="accept",reason=""} 11')
    .replace('le="0.05"} 2', 'le="0.05"} 4').replace('le="0.1"} 8', 'le="0.1"} 10').replace('le="+Inf"} 10', 'le="+Inf"} 12');
  const p = series.push(later, 130);
  assert.equal(p.perMinute.accept, 12);  // 6 in 30 s
  assert.equal(p.perMinute.reject, 0);
  assert.equal(p.stepUpRate, 0);
  assert.ok(Math.abs(p.p50Ms - 25) < 1e-9);  // 2 of the 2 new ones in (0, 50 ms]: the middle of it
  assert.equal(series.t.length, 1);
});

let srv;
let browser;
before(async () => {
  if (!haveData()) return;
  srv = await startServer();
  browser = await launchBrowser(await makeY4m('d3.mp4', { start: 0, seconds: 1.5 }));
});
after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
});

async function signIn(page) {
  await page.goto(`${srv.base}/admin`);
  await waitState(page, 'signin');
  await shot(page, 'admin-signin');
  await page.fill('#signin-key', srv.key);
  await page.click('#signin-go');
  await waitState(page, 'ready');
}

async function passage(gate, event, burst) {
  const r = await srv.api('POST', `/v1/gates/${gate}/passages`, { form: srv.form({ event_id: event, frame_interval_ms: 100 }, { frames: burst }) });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

async function tile(page, id) {
  return Number(await page.getAttribute(`#${id}`, 'data-value'));
}

test('the dashboard shows the passages just made, and an erasure there makes the gate refuse the person', async (t) => {
  if (!haveData()) return t.skip('no videos (FACEPAY_DATA_DIR)');
  // Enrol the person of d3 (its first, calm second) with an account and a top-up.
  await srv.api('POST', '/v1/accounts', { json: { id: 'acct:d3', kind: 'stored_value' } });
  const e = await srv.api('POST', '/v1/subjects', {
    form: srv.form({ id: 'd3', text_version: 'test-v1', channel: 'test', account_id: 'acct:d3', phone_last4: '4321', frame_interval_ms: 100 },
      { frames: frames('d3.mp4', { start: 0, n: 8, fps: 10 }) }),
  });
  assert.equal(e.status, 201, JSON.stringify(e.body));
  const top = await srv.api('POST', '/v1/accounts/acct:d3/topups', { json: { idempotency_key: 'top-d3', amount_minor: 5000 } });
  assert.equal(top.status, 200, JSON.stringify(top.body));

  const page = await (await browser.newContext({ viewport: { width: 1366, height: 900 } })).newPage();
  const errors = [];
  page.on('pageerror', (x) => errors.push(x.message));
  await signIn(page);

  // Passages: the enrolled person at g1 and g2, a stranger (apfol_real2) and a phone replay.
  const counts = { accept: 0, reject: 0, step_up: 0 };
  const made = [];
  made.push(await passage('g1', 'p1', frames('d3.mp4', { start: 0.3, n: 8, fps: 10 })));
  made.push(await passage('g2', 'p2', frames('d3.mp4', { start: 0.6, n: 8, fps: 10 })));
  made.push(await passage('g1', 'p3', frames('apfol_real2.webm', { start: 1, n: 8, fps: 10 })));
  made.push(await passage('g2', 'p4', frames('apfol_real2.webm', { start: 4, n: 8, fps: 10 })));
  made.push(await passage('g1', 'p5', frames('apfol_replay_phone2.webm', { start: 2, n: 8, fps: 10 })));
  for (const m of made) counts[m.decision.outcome] += 1;
  t.diagnostic(`made: ${JSON.stringify(counts)}; reasons ${made.map((m) => m.decision.reason || m.decision.outcome).join(',')}`);
  assert.ok(counts.accept >= 1 && counts.reject >= 1, JSON.stringify(made.map((m) => m.decision)));

  await page.waitForFunction((c) => Number(document.getElementById('tile-accepted').dataset.value) === c.accept
    && Number(document.getElementById('tile-refused').dataset.value) === c.reject, counts, { timeout: 15000 });
  assert.equal(await tile(page, 'tile-accepted'), counts.accept);
  assert.equal(await tile(page, 'tile-refused'), counts.reject);
  assert.equal(await tile(page, 'tile-stepup'), counts.step_up);
  const metrics = await srv.api('GET', '/metrics');
  assert.equal(await tile(page, 'tile-revenue'), summarize(parsePrometheus(metrics.body)).revenueMinor);
  // Let a few polls draw the charts.
  await page.waitForTimeout(7000);
  const drawn = await page.evaluate(() => [...document.querySelectorAll('.charts canvas')].length);
  assert.equal(drawn, 5, 'five uPlot charts');
  await shot(page, 'admin-live');

  // Cameras (issue 16): how each terminal camera is judged, with a warning for the uncalibrated.
  await page.click('#tabs button[data-tab="terminals"]');
  await page.waitForSelector('#cameras-table tr[data-camera="gate:g2"]');
  assert.match(await page.textContent('#cameras-table tr[data-camera="gate:g2"]'), /not calibrated/);
  assert.match(await page.textContent('#cameras-table tr[data-camera="gate:g2"]'), /-7\.00/);
  assert.match(await page.textContent('#cameras-table tr[data-camera="gate:g1"]'), /from the terminals file/);
  assert.ok(await page.isVisible('#cameras-warning'));
  assert.match(await page.textContent('#cameras-warning'), /gate:g2/);
  assert.doesNotMatch(await page.textContent('#cameras-warning'), /gate:g1\b/);
  await page.locator('#cameras-table').scrollIntoViewIfNeeded();
  await shot(page, 'admin-cameras');

  for (const tab of ['terminals', 'policy', 'audit']) {
    await page.click(`#tabs button[data-tab="${tab}"]`);
    await page.waitForSelector(`#tab-${tab} tbody tr, #tab-${tab} dl dt`);
    await shot(page, `admin-${tab}`);
    if (tab === 'policy') assert.match(await page.textContent('#policy-facts'), /0\.480/);
  }
  const audited = await page.$$eval('#audit-table tbody tr', (rows) => rows.map((r) => r.dataset.action));
  assert.ok(audited.includes('enroll') && audited.includes('passage'), audited.join(','));
  await page.fill('#audit-action', 'passage');
  await page.click('#audit-filter button[type="submit"]');
  await page.waitForFunction(() => [...document.querySelectorAll('#audit-table tbody tr')].every((r) => r.dataset.action === 'passage'));
  assert.equal((await page.$$('#audit-table tbody tr')).length, made.length);
  await shot(page, 'admin-audit-filtered');

  // Subjects: find d3, erase it with the confirmation.
  await page.click('#tabs button[data-tab="subjects"]');
  await page.waitForSelector('#subjects-table tr[data-subject="d3"]');
  await page.fill('#subject-q', 'd3');
  await page.click('#subject-search button[type="submit"]');
  await page.waitForSelector('#subject-detail:not([hidden]) dl');
  assert.match(await page.textContent('#subject-detail'), /acct:d3/);
  await shot(page, 'admin-subjects');
  await page.click('#subjects-table tr[data-subject="d3"] button[data-erase]');
  await page.waitForSelector('#confirm[open]');
  await shot(page, 'admin-erase-confirm');
  await page.click('#confirm-yes');
  await page.waitForSelector('#notice:not([hidden])');
  assert.match(await page.textContent('#notice'), /d3 is erased/);
  await shot(page, 'admin-erased');
  await new Promise((r) => setTimeout(r, 2500));  // every node honours it within 2 s
  const after = await passage('g2', 'p6', frames('d3.mp4', { start: 0.3, n: 8, fps: 10 }));
  assert.equal(after.decision.outcome, 'reject', JSON.stringify(after.decision));
  assert.ok(!after.settlement || !after.settlement.txn_id, 'nothing charged');
  assert.deepEqual(errors, []);
});

test('the keys panel makes a pairing code a kiosk redeems, and revoking the key un-pairs it', async (t) => {
  if (!haveData()) return t.skip('no videos (FACEPAY_DATA_DIR)');
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await ctx.newPage();
  await signIn(page);
  await page.click('#tabs button[data-tab="keys"]');
  await page.waitForSelector('#keys-table tbody tr');
  await page.selectOption('#pairing-kind', 'kiosk');
  await page.fill('#pairing-id', 'desk9');
  await page.click('#pairing-go');
  await page.waitForSelector('#pairing-code[data-code]');
  const code = await page.getAttribute('#pairing-code', 'data-code');
  assert.match(code, /^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
  assert.match(await page.textContent('#pairing-expiry'), /Works once, until/);
  await shot(page, 'admin-pairing-code');

  // An unknown terminal is refused in words.
  await page.selectOption('#pairing-kind', 'gate');
  await page.fill('#pairing-id', 'nope');
  await page.click('#pairing-go');
  await page.waitForFunction(() => document.getElementById('pairing-error').textContent.length > 0);
  assert.match(await page.textContent('#pairing-error'), /no gate "nope"/);

  const kiosk = await (await browser.newContext({ viewport: { width: 1080, height: 1300 } })).newPage();
  await kiosk.goto(`${srv.base}/kiosk/enroll/desk9`);
  await waitState(kiosk, 'unpaired');
  await kiosk.fill('#pair-code', code);
  await kiosk.click('#pair-submit');
  await waitState(kiosk, 'welcome');

  await page.click('#tabs button[data-tab="terminals"]');
  await page.waitForSelector('#terminals-table tr[data-kind="kiosk"][data-id="desk9"]');
  assert.match(await page.textContent('#terminals-table tr[data-id="desk9"]'), /paired/);
  await shot(page, 'admin-terminals-paired');

  await page.click('#tabs button[data-tab="keys"]');
  const row = page.locator('#keys-table tbody tr', { hasText: 'paired:kiosk:desk9' });
  await row.waitFor();
  const keyId = await row.getAttribute('data-key');
  await row.locator('button[data-revoke]').click();
  await page.waitForSelector('#confirm[open]');
  await shot(page, 'admin-revoke-confirm');
  await page.click('#confirm-yes');
  await page.waitForSelector(`#keys-table tr[data-key="${keyId}"][data-revoked="true"]`);
  await shot(page, 'admin-keys-revoked');
  const t0 = Date.now();
  await waitState(kiosk, 'unpaired', 5000);
  t.diagnostic(`kiosk un-paired ${Date.now() - t0} ms after the revocation was shown`);
  await shot(kiosk, 'admin-kiosk-unpaired-after-revoke');

  // Create a key by the form: the token is shown once and works.
  await page.selectOption('#key-role', 'gate');
  await page.fill('#key-bindings', 'g1');
  await page.fill('#key-label', 'test gate key');
  await page.click('#key-go');
  await page.waitForSelector('#key-result:not([hidden])');
  const token = (await page.textContent('#key-token')).trim();
  const s = await srv.api('GET', '/v1/session', { token });
  assert.equal(s.body.role, 'gate');
  assert.deepEqual(s.body.bindings, ['g1']);
  await shot(page, 'admin-key-created');

  // Sign out forgets the key.
  await page.click('#signout');
  await waitState(page, 'signin');
  assert.equal(await page.evaluate(() => localStorage.getItem('facepay.token.admin')), null);
  await ctx.close();
});
