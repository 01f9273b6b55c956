// The gate screen (/kiosk/gate/{gate}): a turnstile's display, read at 1 m, no keyboard.
// Paired first; then an always-on camera, a live hint from /v1/frames/check every ~350 ms, and
// when the hint is "ok" a burst posted as a passage with a fresh event id. The answer is shown
// green (fare, balance, cap) or red (a sentence, never a code); a step-up asks for the phone's
// last 4 digits on an on-screen keypad, or, when only liveness was in doubt and the server
// offers movements, prompts them over the camera (blink, turn, smile in the server's order) and
// sends what it recorded; digits remain if they were not seen. A lost connection or a 5xx retries the SAME request
// with the SAME event id (the server settles a passage once per event id): never a second fare.
//
// For tests, <body> records: data-state (unpaired, idle, capturing, sending, retrying, pass,
// refuse, step_up, moves, closed), data-last-event-id, data-last-outcome, data-last-reason,
// data-last-latency-ms (burst sent -> answer painted), data-last-attempts, data-results (a
// counter, bumped once the result is painted), data-moves (the movements asked),
// data-moves-result (passed, or failed:<reason>). URL query (tests only): hold_ms, check_ms,
// burst_frames, burst_interval_ms, retry_max_ms, stepup_timeout_ms, currency.
import { call } from './common/api.js';
import { t, reasonText, money } from './common/strings.js';
import { openCamera, grabJpeg, captureBurst } from './common/camera.js';
import { requirePairing } from './common/pairing.js';
import { callRetrying, errorCode, newKey } from './common/retry.js';
import { $, translateStatic, show, Keypad, prompts } from './kiosk_ui.js';

const gate = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() || '');
const query = new URLSearchParams(location.search);
function setting(name, def, min, max) {
  const v = Number(query.get(name));
  return query.has(name) && Number.isFinite(v) ? Math.min(max, Math.max(min, v)) : def;
}
const HOLD_MS = setting('hold_ms', 3000, 0, 60000);            // a result stays this long
const CHECK_MS = setting('check_ms', 350, 100, 5000);          // one live hint every …
const BURST_FRAMES = setting('burst_frames', 8, 3, 8);         // >= 3: sequence liveness
const BURST_INTERVAL_MS = setting('burst_interval_ms', 125, 40, 500);
const RETRY_MAX_MS = setting('retry_max_ms', 120000, 1000, 600000);
const STEPUP_TIMEOUT_MS = setting('stepup_timeout_ms', 30000, 3000, 300000);
const CURRENCY = /^[A-Z]{3}$/.test(query.get('currency') || '') ? query.get('currency') : 'EUR';
const REQUEST_TIMEOUT_MS = 15000;

const body = document.body;
let epoch = 0;          // bumped on every new person / un-pairing: stale async work stops
let checking = false;   // the live-hint loop runs
let checkTimer = 0;
let holdTimer = 0;
let stepupTimer = 0;
let challenge = null;   // {id, attempts, ...} of the step-up being answered
let results = 0;

const state = () => body.dataset.state;

// ---------------------------------------------------------------- the live hint (idle)
const HINTS = {
  no_face: 'gate.idle_text',
  multiple_faces: 'gate.one_person',
  face_cut_off: 'gate.face_cut_off',
  move_closer: 'gate.move_closer',
  face_the_camera: 'gate.face_camera',
  too_dark: 'gate.too_dark',
  too_bright: 'gate.too_bright',
  hold_still: 'gate.hold_still',
  ok: 'gate.capturing',
  offline: 'gate.offline',
  starting: 'gate.starting',
};

function setHint(hint) {
  const h = $('hint');
  h.dataset.hint = hint;
  h.textContent = t(HINTS[hint] || 'gate.idle_text');
  h.className = `g-hint ${hint === 'ok' ? 'ok' : hint === 'no_face' || hint === 'starting' ? '' : 'warn'}`;
  $('guide').className = `g-guide ${hint === 'ok' ? 'ok' : hint === 'no_face' ? '' : 'warn'}`;
}

function toIdle() {
  epoch += 1;
  clearTimeout(holdTimer);
  clearTimeout(stepupTimer);
  challenge = null;
  show('idle');
  setHint('no_face');
  startChecks();
}

function startChecks() {
  checking = true;
  clearTimeout(checkTimer);
  checkTimer = setTimeout(checkOnce, 0);
}
function stopChecks() {
  checking = false;
  clearTimeout(checkTimer);
}

async function checkOnce() {
  if (!checking || state() !== 'idle') return;
  const my = epoch;
  const started = performance.now();
  try {
    const frame = await grabJpeg($('video'), 0.8);
    const form = new FormData();
    form.append('frame', frame, 'frame.jpg');
    const r = await call('POST', '/v1/frames/check', { form, timeoutMs: 4000 });
    if (my !== epoch || state() !== 'idle' || !checking) return;
    if (r.status === 401) return;  // un-paired: pairing.js takes over
    if (r.status === 0 || r.status >= 500) {
      setHint('offline');
    } else if (r.ok) {
      const hint = r.body && r.body.hint ? r.body.hint : 'no_face';
      setHint(hint);
      if (hint === 'ok') {
        passage();
        return;
      }
    }
  } catch {
    // no frame yet (camera warming up): try again at the next tick
  }
  if (checking && my === epoch) {
    checkTimer = setTimeout(checkOnce, Math.max(0, CHECK_MS - (performance.now() - started)));
  }
}

// ---------------------------------------------------------------- the passage
async function passage() {
  stopChecks();
  const my = ++epoch;
  show('capturing', 'sending');
  $('sending-title').textContent = t('gate.capturing');
  $('sending-text').textContent = '';
  let frames;
  try {
    frames = await captureBurst($('video'), BURST_FRAMES, BURST_INTERVAL_MS);
  } catch {
    if (my === epoch) toIdle();
    return;
  }
  if (my !== epoch) return;
  const eventId = newKey(gate);
  const form = new FormData();
  form.append('event_id', eventId);
  form.append('frame_interval_ms', String(BURST_INTERVAL_MS));
  frames.forEach((f, i) => form.append('frames', f, `frame${i}.jpg`));
  body.dataset.lastEventId = eventId;
  const t0 = performance.now();
  const r = await send(`/v1/gates/${encodeURIComponent(gate)}/passages`, { form }, my);
  if (r === null || my !== epoch) return;
  showAnswer(r, t0);
}

// The request, resent unchanged (same event id / challenge) until the server answers.
function send(path, opts, my) {
  return callRetrying('POST', path, opts, {
    maxMs: RETRY_MAX_MS,
    timeoutMs: REQUEST_TIMEOUT_MS,
    current: () => my === epoch,
    onAttempt: (n) => {
      body.dataset.lastAttempts = String(n);
      if (n === 1) {
        show('sending');
        $('sending-title').textContent = t('gate.sending');
        $('sending-text').textContent = '';
      }
    },
    onRetry: () => {
      show('retrying', 'sending');
      $('sending-title').textContent = t('gate.retrying');
      $('sending-text').textContent = t('gate.retrying_text');
    },
  });
}

// A passage's (or a step-up's) answer: decision + settlement.
function showAnswer(r, t0) {
  if (r.status === 401) return;  // the key stopped working: pairing.js shows "not paired"
  if (!r.ok) return refuse(errorCode(r), t0);
  const d = (r.body && r.body.decision) || {};
  const s = r.body.settlement;
  if (d.outcome === 'accept') {
    if (s && s.open_gate) return pass(s, t0);
    if (s && s.kind === 'passback') return refuse('anti_passback', t0);
    if (s && s.declined) return refuse(s.reason || 'insufficient_funds', t0);
    return refuse((s && s.reason) || 'no_linked_account', t0);
  }
  if (d.outcome === 'step_up' && r.body.challenge) {
    const ch = r.body.challenge;
    if (ch.movements && Array.isArray(ch.movements.actions) && ch.movements.actions.length) return moves(ch, t0);
    return stepUp(ch, t0);
  }
  return refuse(d.reason || 'no_match', t0);
}

// Records the time from the burst sent to the answer on screen: a task posted from the next
// animation frame runs once that frame is painted.
function painted(t0, outcome, reason) {
  body.dataset.lastOutcome = outcome;
  body.dataset.lastReason = reason || '';
  requestAnimationFrame(() => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      if (t0 !== undefined) body.dataset.lastLatencyMs = String(Math.round(performance.now() - t0));
      results += 1;
      body.dataset.results = String(results);
    };
    ch.port2.postMessage(0);
  });
}

function holdThenIdle() {
  const my = epoch;
  clearTimeout(holdTimer);
  holdTimer = setTimeout(() => { if (my === epoch) toIdle(); }, HOLD_MS);
}

function fareLine(s) {
  if (s.fare_minor > 0) return t('gate.pass_fare', { fare: money(s.fare_minor, CURRENCY) });
  if (s.reason === 'transfer') return t('gate.pass_transfer');
  if (s.reason === 'concession') return t('gate.pass_concession');
  if (s.reason === 'exit') return t('gate.pass_exit');
  return t('gate.pass_free');
}

function pass(s, t0) {
  $('pass-fare').textContent = fareLine(s);
  $('pass-fare').dataset.minor = String(s.fare_minor || 0);
  $('pass-fare').dataset.reason = s.reason || '';
  $('pass-balance').textContent = t('gate.pass_balance', { balance: money(s.balance_minor, CURRENCY) });
  $('pass-balance').dataset.minor = String(s.balance_minor);
  const note = s.reason === 'daily_cap' ? t('gate.cap_reached') : s.reason === 'weekly_cap' ? t('gate.weekly_cap') : '';
  $('pass-note').textContent = note;
  $('pass-note').hidden = !note;
  body.dataset.lastTxnId = String(s.txn_id || 0);
  show('pass');
  painted(t0, 'pass', s.reason);
  holdThenIdle();
}

const REFUSE_TITLES = {
  anti_passback: 'gate.refuse_passback_title',
  insufficient_funds: 'gate.refuse_funds_title',
  no_funds: 'gate.refuse_funds_title',
};

function refuse(code, t0) {
  $('refuse-title').textContent = t(REFUSE_TITLES[code] || 'gate.refuse_title');
  $('refuse-text').textContent = reasonText(code);
  $('refuse-text').dataset.reason = code;
  show('refuse');
  painted(t0, 'refuse', code);
  holdThenIdle();
}

// ---------------------------------------------------------------- step-up: phone digits
const keypad = new Keypad($('keypad'), () => renderDigits());

function renderDigits() {
  const v = keypad.value;
  const boxes = [];
  for (let i = 0; i < 4; i += 1) {
    const b = document.createElement('span');
    b.className = `g-digit ${i < v.length ? 'on' : ''}`;
    b.textContent = i < v.length ? v[i] : '';
    boxes.push(b);
  }
  $('stepup-digits').replaceChildren(...boxes);
  $('stepup-digits').dataset.count = String(v.length);
  armStepUpTimeout();
}

function armStepUpTimeout() {
  clearTimeout(stepupTimer);
  if (state() !== 'step_up') return;
  const my = epoch;
  stepupTimer = setTimeout(() => { if (my === epoch && state() === 'step_up') toIdle(); }, STEPUP_TIMEOUT_MS);
}

function stepUp(ch, t0, message = '') {
  challenge = ch;
  show('step_up');
  keypad.reset(4);
  $('stepup-msg').textContent = message;
  body.dataset.attemptsLeft = String(ch.attempts ?? '');
  painted(t0, 'step_up', '');
  armStepUpTimeout();
}

// ---------------------------------------------------------------- step-up: movements
// The server drew the movements when it answered; a recorded video cannot know them. One
// response per step-up: the keypad takes over when they were not seen.
async function moves(ch, t0) {
  challenge = ch;
  const my = epoch;
  const m = ch.movements;
  body.dataset.moves = m.actions.join(',');
  delete body.dataset.movesResult;
  show('moves');
  painted(t0, 'step_up', 'movements');
  const rec = await prompts($('video'), m.actions, Number(m.step_timeout_ms) || 4000, grabJpeg,
    { maxFrames: Number(m.max_frames) || 48, live: () => my === epoch && state() === 'moves' });
  if (my !== epoch || state() !== 'moves') return;  // gone, or chose the keypad
  const form = new FormData();
  form.append('frame_interval_ms', String(rec.intervalMs));
  rec.frames.forEach((f, i) => form.append('frames', f, `move${i}.jpg`));
  const t1 = performance.now();
  const r = await send(
    `/v1/gates/${encodeURIComponent(gate)}/passages/${encodeURIComponent(ch.id)}/movements`,
    { form }, my);
  if (r === null || my !== epoch) return;
  const seen = r.ok && r.body.movements;
  if (seen) body.dataset.movesResult = `${seen.result}${seen.failure ? `:${seen.failure}` : ''}`;
  if (r.ok && !r.body.settlement && r.body.attempts_left !== undefined) {
    const left = Number(r.body.attempts_left);
    const why = seen && seen.failure === 'face_mismatch' ? 'gate.moves_face' : 'gate.moves_failed';
    if (left > 0) return stepUp({ ...ch, movements: null, attempts: left }, t1, t(why));
    return refuse('step_up_failed', t1);
  }
  showAnswer(r, t1);
}

$('moves-digits').addEventListener('click', () => {
  if (state() === 'moves' && challenge) stepUp({ ...challenge, movements: null }, undefined);
});

$('stepup-cancel').addEventListener('click', () => toIdle());
$('stepup-ok').addEventListener('click', async () => {
  if (state() !== 'step_up' || !challenge) return;
  const digits = keypad.value;
  if (digits.length !== 4) {
    $('stepup-msg').textContent = t('gate.stepup_need4');
    return;
  }
  clearTimeout(stepupTimer);
  const my = epoch;
  const ch = challenge;
  const t0 = performance.now();
  const r = await send(
    `/v1/gates/${encodeURIComponent(gate)}/passages/${encodeURIComponent(ch.id)}/step-up`,
    { json: { phone_last4: digits } }, my);
  if (r === null || my !== epoch) return;
  if (r.ok && !r.body.settlement && r.body.attempts_left !== undefined) {
    const left = Number(r.body.attempts_left);
    if (left > 0) return stepUp({ ...ch, attempts: left }, t0, t('gate.stepup_left', { n: left }));
    return refuse('step_up_failed', t0);
  }
  showAnswer(r, t0);
});

// ---------------------------------------------------------------- start
(async () => {
  translateStatic();
  $('g-where').textContent = t('gate.where', { gate });
  body.dataset.state = 'pairing';
  await requirePairing({
    kind: 'gate', id: gate, root: $('pairing-root'),
    // Revoked: stop at once (nothing in flight may paint over "not paired"), then start clean.
    onUnpaired: () => {
      epoch += 1;
      stopChecks();
      clearTimeout(holdTimer);
      clearTimeout(stepupTimer);
      $('g-main').hidden = true;
      location.reload();
    },
  });
  $('g-main').hidden = false;
  show('idle');
  setHint('starting');
  try {
    await openCamera($('video'));
  } catch (e) {
    $('refuse-title').textContent = t('gate.refuse_title');
    $('refuse-text').textContent = t('gate.no_camera');
    $('refuse-text').dataset.reason = 'camera_failed';
    show('closed', 'refuse');
    return;
  }
  toIdle();
})();
