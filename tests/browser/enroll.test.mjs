// The enrolment kiosk and the self-service erasure screen in a real Chromium, against a real
// `facepay serve`, with a fake camera made from a real video: pairing, consent, burst,
// challenge (when the server has the route), phone digits and PIN, account and top-up; the
// same face again is refused as a duplicate; erasure with a wrong PIN is refused, with the right
// one the face data is deleted. Screenshots of every state go to FACEPAY_BROWSER_OUT.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, makeY4m, haveData, shot, waitState, typeDigits, pairPage } from './local_harness.mjs';

const KIOSK = 'desk1';
let srv;
let browser;
let y4m;

before(async () => {
  if (!haveData()) return;
  // The movement check asks for a blink, which the clip's person does (a random order could not
  // be followed by a recorded video: that is the point of it). Production draws a random order.
  srv = await startServer({ args: ['--fixed-challenge-order', 'blink'] });
  // d3's first 1.5 s: a calm, frontal stretch (later its person pulls faces, which the quality check refuses).
  y4m = await makeY4m('d3.mp4', { start: 0, seconds: 1.5 });
  browser = await launchBrowser(y4m);
});
after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
});

async function enrolThroughKiosk(page, { phone, pin, topup, label, retries = 0 }) {
  await page.click('#welcome-go');
  await waitState(page, 'consent');
  const version = (await page.textContent('#consent-version')).trim();
  await shot(page, `enroll-${label}-consent`);
  await page.click('#consent-yes');
  await waitState(page, 'camera');
  await page.waitForFunction(() => document.getElementById('hint').dataset.hint !== 'starting', null, { timeout: 15000 });
  await shot(page, `enroll-${label}-camera`);
  // The kiosk captures by itself once the live check says "ok" twice; press the button if not.
  const auto = await page.waitForFunction(() => document.body.dataset.state !== 'camera', null, { timeout: 10000 }).then(() => true, () => false);
  if (!auto) await page.click('#capture-go');
  const seen = await page.waitForFunction(() => ['challenge', 'factors'].includes(document.body.dataset.state) ? document.body.dataset.state : false, null, { timeout: 20000 });
  if ((await seen.jsonValue()) === 'challenge') {
    await page.waitForSelector('#prompt:not([hidden])');
    await shot(page, `enroll-${label}-challenge`);
  }
  // After two unseen tries the kiosk refuses ("The movements were not seen"); a person then
  // starts again, and so does this test: the fake camera loops a 1.5 s clip, so where its
  // blink falls against the prompts (and the 8 frames a second the page samples) varies.
  const next = await page.waitForFunction(() => ['factors', 'refused'].includes(document.body.dataset.state) ? document.body.dataset.state : false, null, { timeout: 60000 });
  if ((await next.jsonValue()) === 'refused') {
    const reason = await page.getAttribute('#refused-text', 'data-reason');
    if (reason !== 'challenge_failed' || retries >= 2) return { state: 'refused', reason, version, challenge: {} };
    await shot(page, `enroll-${label}-unseen-${retries + 1}`);
    await page.click('#refused-again');
    await waitState(page, 'welcome');
    return enrolThroughKiosk(page, { phone, pin, topup, label, retries: retries + 1 });
  }
  const challenge = await page.evaluate(() => ({
    actions: document.body.dataset.challenge || '',
    result: document.body.dataset.challengeResult || '',
    tries: Number(document.body.dataset.challengeTry || 0),
  }));
  await shot(page, `enroll-${label}-phone`);
  await typeDigits(page, phone);
  await page.click('#factor-ok');
  await page.waitForFunction(() => document.body.dataset.factor === 'pin');
  await typeDigits(page, pin);
  await shot(page, `enroll-${label}-pin`);
  await page.click('#factor-ok');
  await page.waitForFunction(() => document.body.dataset.factor === 'pin2');
  await typeDigits(page, pin);
  await page.click('#factor-ok');
  await waitState(page, 'account');
  await page.click(`#amounts [data-amount="${topup}"]`);
  await shot(page, `enroll-${label}-account`);
  await page.click('#account-go');
  const end = await page.waitForFunction(() => ['done', 'refused'].includes(document.body.dataset.state) ? document.body.dataset.state : false, null, { timeout: 90000 });
  const state = await end.jsonValue();
  await shot(page, `enroll-${label}-${state}`);
  return { state, version, challenge, retries };
}

test('enrol the person of a real clip at the kiosk, pass the gate with a later part of the clip, then the same face again is refused', async (t) => {
  if (!haveData()) return t.skip('no videos (FACEPAY_DATA_DIR)');
  const code = await srv.pairingCode('kiosk', KIOSK);
  const ctx = await browser.newContext({ viewport: { width: 1080, height: 1400 } });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${srv.base}/kiosk/enroll/${KIOSK}`);
  await waitState(page, 'unpaired');
  await shot(page, 'enroll-unpaired');
  await page.fill('#pair-code', code);
  await page.click('#pair-submit');
  await waitState(page, 'welcome');
  await shot(page, 'enroll-welcome');
  let id = (await page.inputValue('#subject-id')).trim();
  assert.match(id, /^p-[0-9a-z]{8}$/);

  const first = await enrolThroughKiosk(page, { phone: '4321', pin: '2468', topup: 2000, label: 'first' });
  assert.equal(first.state, 'done', await page.textContent('#refused-text').catch(() => ''));
  if (first.retries) {
    t.diagnostic(`started again ${first.retries} time(s) after unseen movements`);
    id = (await page.textContent('#done-id')).trim();  // a new start draws a new id
    assert.match(id, /^p-[0-9a-z]{8}$/);
  }
  assert.equal((await page.textContent('#done-id')).trim(), id);
  assert.equal(await page.getAttribute('#done-balance', 'data-minor'), '2000');

  const s = await srv.api('GET', `/v1/subjects/${id}`);
  assert.equal(s.status, 200);
  assert.equal(s.body.account_id, `acct:${id}`);
  assert.equal(s.body.consent.text_version, first.version);
  assert.equal(s.body.has_phone_last4, true);
  assert.equal(s.body.has_pin, true);
  assert.ok(s.body.templates >= 1);
  const a = await srv.api('GET', `/v1/accounts/acct:${id}`);
  assert.equal(a.body.balance_minor, 2000);
  // The movement check was prompted, passed on the server, and the enrolment names it.
  assert.equal(first.challenge.actions, 'blink');
  assert.equal(first.challenge.result, 'passed');
  if (first.challenge.tries > 1) t.diagnostic(`the movement check passed on try ${first.challenge.tries}`);
  assert.equal((await page.textContent('#done-challenge')).trim(), 'Passed');
  const audit = (await srv.api('GET', `/v1/audit?action=enroll&target=${id}`)).body.items;
  assert.equal(audit.length, 1);
  assert.match(audit[0].detail.challenge, /^ch_[0-9a-f]{32}$/);
  const checked = (await srv.api('GET', `/v1/audit?action=liveness_challenge&target=${audit[0].detail.challenge}`)).body.items;
  assert.deepEqual(checked.map((x) => x.outcome), ['issued', 'passed']);

  // The person just enrolled at the kiosk walks to gate g1: its camera shows a later part of the
  // same clip. Green, one fare, and the balance on the screen is the ledger's.
  const gateBrowser = await launchBrowser(await makeY4m('d3.mp4', { start: 3, seconds: 2, fit: 'pad' }));
  try {
    const gate = await (await gateBrowser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await pairPage(gate, srv, 'gate', 'g1', { query: '?hold_ms=2500' });
    let seen = 0;
    let r = {};
    const before = [];
    for (let i = 0; i < 3; i++) {  // a too poor burst (the person moves) is tried again, as at a real gate
      await gate.waitForFunction((n) => Number(document.body.dataset.results || 0) > n, seen, { timeout: 45000, polling: 50 });
      r = await gate.evaluate(() => ({
        results: Number(document.body.dataset.results),
        state: document.body.dataset.state,
        reason: document.body.dataset.lastReason,
        eventId: document.body.dataset.lastEventId,
        fareMinor: Number(document.getElementById('pass-fare').dataset.minor || -1),
        balanceMinor: Number(document.getElementById('pass-balance').dataset.minor || -1),
      }));
      seen = r.results;
      if (r.state === 'pass') break;
      before.push(r.reason || r.state);
    }
    await shot(gate, 'enroll-then-gate-pass');
    assert.equal(r.state, 'pass', `${JSON.stringify(r)} after ${before.join(', ')}`);
    assert.ok(before.every((x) => x === 'low_quality'), before.join(', '));
    const after = await srv.api('GET', `/v1/accounts/acct:${id}`);
    const tx = await srv.api('GET', `/v1/accounts/acct:${id}/transactions?limit=100`);
    const fares = tx.body.items.filter((x) => x.kind === 'fare');
    assert.equal(fares.length, 1, JSON.stringify(tx.body.items));
    assert.ok(fares[0].idempotency_key.endsWith(`:${r.eventId}`), fares[0].idempotency_key);
    assert.equal(r.fareMinor, fares[0].amount_minor);
    assert.equal(r.balanceMinor, after.body.balance_minor);
    assert.equal(after.body.balance_minor, 2000 - fares[0].amount_minor);
  } finally {
    await gateBrowser.close();
  }

  // The same person again, under a new id: refused on screen as a duplicate face.
  await page.click('#done-again');
  await waitState(page, 'welcome');
  const id2 = (await page.inputValue('#subject-id')).trim();
  assert.notEqual(id2, id);
  const again = await enrolThroughKiosk(page, { phone: '1111', pin: '9999', topup: 0, label: 'again' });
  assert.equal(again.state, 'refused');
  assert.equal(await page.getAttribute('#refused-text', 'data-reason'), 'duplicate_subject');
  assert.equal((await page.textContent('#refused-title')).trim(), 'This face is already enrolled');
  const s2 = await srv.api('GET', `/v1/subjects/${id2}`);
  assert.equal(s2.status, 404);
  assert.deepEqual(errors, []);

  // Self-service erasure at the same desk (the browser is paired as kiosk:desk1 already).
  const erase = await ctx.newPage();
  await erase.goto(`${srv.base}/kiosk/erase/${KIOSK}`);
  await waitState(erase, 'welcome');
  await shot(erase, 'erase-welcome');
  const eraseWith = async (pin, label) => {
    await erase.click('#erase-start');
    await waitState(erase, 'camera');
    const auto = await erase.waitForFunction(() => document.body.dataset.state !== 'camera', null, { timeout: 10000 }).then(() => true, () => false);
    if (!auto) await erase.click('#capture-go');
    await waitState(erase, 'pin', 20000);
    await typeDigits(erase, pin);
    await shot(erase, `erase-${label}-pin`);
    await erase.click('#pin-go');
    const end = await erase.waitForFunction(() => ['done', 'refused'].includes(document.body.dataset.state) ? document.body.dataset.state : false, null, { timeout: 60000 });
    const state = await end.jsonValue();
    await shot(erase, `erase-${label}-${state}`);
    return state;
  };
  assert.equal(await eraseWith('1357', 'wrongpin'), 'refused');
  assert.equal(await erase.getAttribute('#refused-text', 'data-reason'), 'not_recognised');
  assert.equal((await srv.api('GET', `/v1/subjects/${id}`)).body.templates >= 1, true, 'a wrong PIN erases nothing');
  await erase.click('#refused-again');
  await waitState(erase, 'welcome');
  // A burst the server finds unusable (the clip's person moves) is refused like a wrong match,
  // and the screen asks the person to try again: up to 3 tries, as a person would.
  let right = 'refused';
  for (let i = 0; i < 3 && right !== 'done'; i++) {
    if (i > 0) { await erase.click('#refused-again'); await waitState(erase, 'welcome'); }
    right = await eraseWith('2468', 'rightpin');
  }
  assert.equal(right, 'done', JSON.stringify((await srv.api('GET', '/v1/audit?action=erase_by_face')).body));
  assert.equal((await erase.textContent('[data-screen="done"] h1')).trim(), 'Your face data is deleted');
  assert.equal(await erase.getAttribute('#done-text', 'data-subject'), id);
  assert.ok((await erase.$$('#kept-list li')).length >= 2);
  const gone = await srv.api('GET', `/v1/subjects/${id}`);
  assert.ok(gone.status === 404 || gone.body.templates === 0, JSON.stringify(gone.body));
  await ctx.close();
});

test('a person who does not make the movements asked for is refused after two tries, and nothing is enrolled', async (t) => {
  if (!haveData()) return t.skip('no videos (FACEPAY_DATA_DIR)');
  // The clip's calm stretch never turns its head: asked to turn left then right, it cannot pass.
  const strict = await startServer({ args: ['--fixed-challenge-order', 'turn_left,turn_right'] });
  const ctx = await browser.newContext({ viewport: { width: 1080, height: 1400 } });
  try {
    const page = await ctx.newPage();
    await page.goto(`${strict.base}/kiosk/enroll/${KIOSK}`);
    await waitState(page, 'unpaired');
    await page.fill('#pair-code', await strict.pairingCode('kiosk', KIOSK));
    await page.click('#pair-submit');
    await waitState(page, 'welcome');
    const id = (await page.inputValue('#subject-id')).trim();
    await page.click('#welcome-go');
    await waitState(page, 'consent');
    await page.click('#consent-yes');
    await waitState(page, 'camera');
    const auto = await page.waitForFunction(() => document.body.dataset.state !== 'camera', null, { timeout: 10000 }).then(() => true, () => false);
    if (!auto) await page.click('#capture-go');
    await page.waitForFunction(() => document.body.dataset.challengeTry === '2' && document.body.dataset.prompt === 'turn_left', null, { timeout: 60000, polling: 50 });
    await shot(page, 'enroll-challenge-second-try');
    await waitState(page, 'refused', 60000);
    await shot(page, 'enroll-challenge-refused');
    assert.equal(await page.getAttribute('#refused-text', 'data-reason'), 'challenge_failed');
    assert.equal((await page.textContent('#refused-title')).trim(), 'The movements were not seen');
    const checks = (await strict.api('GET', '/v1/audit?action=liveness_challenge')).body.items;
    assert.deepEqual(checks.map((x) => x.outcome), ['issued', 'failed', 'issued', 'failed']);
    assert.equal((await strict.api('GET', `/v1/subjects/${id}`)).status, 404);
  } finally {
    await ctx.close();
    await strict.stop();
  }
});
