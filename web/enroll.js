// The enrolment kiosk (/kiosk/enroll/{kiosk}): welcome → consent → camera with live feedback →
// burst → active challenge → phone digits / PIN → account and first top-up → result.
// The step is in document.body.dataset.state. Only the public /v1 API, through common/api.js.
import { call } from './common/api.js';
import { t, reasonText } from './common/strings.js';
import { openCamera, grabJpeg, captureBurst } from './common/camera.js';
import { requirePairing } from './common/pairing.js';
import {
  $, translateStatic, show, Keypad, prompts, refusalOf, money, parseAmount,
  newSubjectId, validId, sleep,
} from './kiosk_ui.js';

const kiosk = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() || '');
const BURST_FRAMES = 8;
const BURST_INTERVAL_MS = 100;
const CHECK_EVERY_MS = 700;
const AMOUNTS_MINOR = [0, 500, 1000, 2000, 5000];

let session = null;
let cameraReady = null;
let checking = 0;
let checkBusy = false;
let okStreak = 0;
let person = null;   // everything gathered for the enrolment in progress

// The paired key is the page's scope in common/api.js (set by requirePairing): no token here.
function api(method, path, opts = {}) { return call(method, path, opts); }

function fresh() {
  return {
    id: newSubjectId(),
    frames: [],
    challenge: null,          // {id, actions} of the passed movement check
    challengeNote: '',
    phone: '',
    pin: '',
    account: { mode: 'new', id: '' },
    topupMinor: 1000,
  };
}

// ---------------------------------------------------------------- welcome
function toWelcome() {
  stopChecks();
  person = fresh();
  $('subject-id').value = person.id;
  $('subject-error').textContent = '';
  show('welcome');
}
$('subject-new').addEventListener('click', () => { $('subject-id').value = newSubjectId(); });
$('welcome-go').addEventListener('click', () => {
  const id = $('subject-id').value.trim();
  if (!validId(id, 64)) {
    $('subject-error').textContent = t('enroll.subject_invalid');
    return;
  }
  person.id = id;
  toConsent();
});

// ---------------------------------------------------------------- consent
function toConsent() {
  $('consent-text').replaceChildren(...t('enroll.consent_text').split('\n\n').map((p) => {
    const e = document.createElement('p');
    e.textContent = p;
    return e;
  }));
  $('consent-version').textContent = t('enroll.consent_version');
  show('consent');
}
$('consent-no').addEventListener('click', () => toWelcome());
$('consent-yes').addEventListener('click', () => toCamera());

// ---------------------------------------------------------------- camera with live feedback
async function toCamera() {
  show('camera');
  $('camera-title').textContent = t('enroll.camera_title');
  $('prompt').hidden = true;
  $('capture-go').disabled = false;
  $('camera-back').disabled = false;
  setHint('starting');
  $('camera-note').textContent = '';
  try {
    if (!cameraReady) cameraReady = openCamera($('video'));
    await cameraReady;
  } catch (e) {
    cameraReady = null;
    setHint('no_camera');
    return;
  }
  okStreak = 0;
  startChecks();
}

function setHint(hint) {
  const h = $('hint');
  h.dataset.hint = hint;
  h.textContent = t(`enroll.hint_${hint}`);
  h.className = `k-hint ${hint === 'ok' ? 'ok' : hint === 'starting' ? '' : 'warn'}`;
  $('guide').className = `k-guide ${hint === 'ok' ? 'ok' : ''}`;
}

function startChecks() {
  stopChecks();
  checking = setInterval(checkOnce, CHECK_EVERY_MS);
  checkOnce();
}
function stopChecks() {
  clearInterval(checking);
  checking = 0;
}

async function checkOnce() {
  if (checkBusy || document.body.dataset.state !== 'camera') return;
  checkBusy = true;
  try {
    const frame = await grabJpeg($('video'));
    if (!frame) return;
    const form = new FormData();
    form.append('frame', frame, 'frame.jpg');
    const res = await api('POST', '/v1/frames/check', { form, timeoutMs: 4000 });
    if (document.body.dataset.state !== 'camera') return;
    if (res.status === 404) {
      // An older server: no live feedback, the person takes the pictures when ready.
      stopChecks();
      setHint('unavailable');
      return;
    }
    if (!res.ok) {
      setHint(res.status === 0 ? 'offline' : 'unavailable');
      return;
    }
    const hint = res.body.hint || 'no_face';
    setHint(hint);
    okStreak = hint === 'ok' ? okStreak + 1 : 0;
    if (okStreak >= 2) capture();
  } finally {
    checkBusy = false;
  }
}

$('camera-back').addEventListener('click', () => toWelcome());
$('capture-go').addEventListener('click', () => capture());

// ---------------------------------------------------------------- burst and challenge
let capturing = false;
async function capture() {
  if (capturing) return;
  capturing = true;
  stopChecks();
  try {
    show('capturing', 'camera');
    $('capture-go').disabled = true;
    $('camera-back').disabled = true;
    $('camera-title').textContent = t('enroll.capturing_title');
    setHint('hold_still_now');
    $('flash').hidden = false;
    person.frames = await captureBurst($('video'), BURST_FRAMES, BURST_INTERVAL_MS);
    $('flash').hidden = true;
    await challenge();
    toFactors('phone');
  } catch (e) {
    if (e.refusal) refuse(e.refusal.code, e.refusal.body);
    else refuse('camera_failed');
  } finally {
    $('flash').hidden = true;
    capturing = false;
  }
}

// The server draws the movements (blink, turn, smile) in a random order; the kiosk prompts them
// while recording, sends the recording, and the server says whether it saw them in that order.
// A failed try gets one more (a new order); the enrolment then names the passed challenge, and
// the server holds the enrolment to the face that passed it.
const CHALLENGE_TRIES = 2;
async function challenge() {
  for (let attempt = 1; attempt <= CHALLENGE_TRIES; attempt++) {
    const res = await api('POST', `/v1/kiosks/${encodeURIComponent(kiosk)}/challenges`, { json: {} });
    if (!res.ok) throw refusal(res.body?.error?.code || 'network', res.body);
    const c = res.body;
    const actions = Array.isArray(c.actions) ? c.actions : [];
    show('challenge', 'camera');
    document.body.dataset.challenge = actions.join(',');
    document.body.dataset.challengeTry = String(attempt);
    $('camera-title').textContent = t(attempt === 1 ? 'enroll.challenge_title' : 'enroll.challenge_again_title');
    setHint('follow');
    const rec = await prompts($('video'), actions, Number(c.step_timeout_ms) || 4000, grabJpeg,
      { maxFrames: Number(c.max_frames) || 48 });
    $('camera-title').textContent = t('enroll.challenge_checking');
    const form = new FormData();
    form.append('frame_interval_ms', String(rec.intervalMs));
    rec.frames.forEach((f, i) => form.append('frames', f, `challenge${i}.jpg`));
    const r = await api('POST', `/v1/kiosks/${encodeURIComponent(kiosk)}/challenges/${encodeURIComponent(c.challenge_id)}/responses`,
      { form, timeoutMs: 60000 });
    if (!r.ok) throw refusal(r.body?.error?.code || 'network', r.body);
    document.body.dataset.challengeResult = `${r.body.result}${r.body.failure ? `:${r.body.failure}` : ''}`;
    if (r.body.result === 'passed') {
      person.challenge = { id: c.challenge_id, actions };
      person.challengeNote = t('enroll.challenge_passed');
      return;
    }
    if (attempt < CHALLENGE_TRIES) {
      $('camera-note').textContent = t('enroll.challenge_retry');
      await sleep(1500);
      $('camera-note').textContent = '';
    }
  }
  throw refusal('challenge_failed');
}

// A refusal the capture step ends with (refuse() shows it).
function refusal(code, body) {
  const e = new Error(code);
  e.refusal = { code, body };
  return e;
}

// ---------------------------------------------------------------- phone digits and PIN
const keypad = new Keypad($('keypad'), () => renderDigits());
let factor = 'phone';

function toFactors(which) {
  factor = which;
  show('factors');
  document.body.dataset.factor = which;
  $('factor-title').textContent = t(`enroll.factor_${which}_title`);
  $('factor-help').textContent = t(`enroll.factor_${which}_help`);
  $('factor-error').textContent = '';
  $('factor-skip').hidden = which === 'pin2';
  keypad.reset(which === 'phone' ? 4 : 8);
  renderDigits();
}

function renderDigits() {
  const v = keypad.value;
  const n = factor === 'phone' ? 4 : Math.max(4, v.length);
  const boxes = [];
  for (let i = 0; i < n; i++) {
    const b = document.createElement('span');
    b.className = `k-digit ${i < v.length ? 'on' : ''}`;
    b.textContent = i < v.length ? (factor === 'phone' ? v[i] : '●') : '';
    boxes.push(b);
  }
  $('factor-digits').replaceChildren(...boxes);
  $('factor-digits').dataset.count = String(v.length);
}

$('factor-ok').addEventListener('click', () => {
  const v = keypad.value;
  if (factor === 'phone') {
    if (v.length !== 4) { $('factor-error').textContent = t('enroll.phone_four'); return; }
    person.phone = v;
    toFactors('pin');
  } else if (factor === 'pin') {
    if (v.length < 4 || v.length > 8) { $('factor-error').textContent = t('enroll.pin_length'); return; }
    person.pin = v;
    toFactors('pin2');
  } else {
    if (v !== person.pin) {
      person.pin = '';
      toFactors('pin');
      $('factor-error').textContent = t('enroll.pin_mismatch');
      return;
    }
    toAccount();
  }
});
$('factor-skip').addEventListener('click', () => {
  if (factor === 'phone') { person.phone = ''; toFactors('pin'); return; }
  if (factor === 'pin') {
    if (!person.phone) { $('factor-error').textContent = t('enroll.need_a_factor'); return; }
    person.pin = '';
    toAccount();
  }
});

// ---------------------------------------------------------------- account and top-up
function toAccount() {
  show('account');
  $('acct-new-label').textContent = t('enroll.account_new', { id: `acct:${person.id}` });
  $('account-error').textContent = '';
  renderAmounts();
}

function renderAmounts() {
  const buttons = AMOUNTS_MINOR.map((m) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = `k-amount ${person.topupMinor === m && !$('topup-other').value ? 'on' : ''}`;
    b.dataset.amount = String(m);
    b.textContent = m === 0 ? t('enroll.topup_none') : money(m);
    b.addEventListener('click', () => {
      person.topupMinor = m;
      $('topup-other').value = '';
      renderAmounts();
    });
    return b;
  });
  $('amounts').replaceChildren(...buttons);
}
$('topup-other').addEventListener('input', () => renderAmounts());
for (const r of document.querySelectorAll('input[name="acct"]')) {
  r.addEventListener('change', () => {
    $('acct-existing').disabled = !$('acct-link').checked;
    if ($('acct-link').checked) $('acct-existing').focus();
  });
}
$('account-back').addEventListener('click', () => toWelcome());
$('account-go').addEventListener('click', async () => {
  $('account-error').textContent = '';
  const link = $('acct-link').checked;
  const id = link ? $('acct-existing').value.trim() : `acct:${person.id}`;
  if (!validId(id, 128)) { $('account-error').textContent = t('enroll.account_invalid'); return; }
  let amount = person.topupMinor;
  if ($('topup-other').value.trim()) {
    amount = parseAmount($('topup-other').value);
    if (amount === null) { $('account-error').textContent = t('enroll.amount_invalid'); return; }
  }
  if (link) {
    const a = await api('GET', `/v1/accounts/${encodeURIComponent(id)}`);
    if (!a.ok) {
      $('account-error').textContent = a.status === 404 ? t('enroll.account_missing', { id }) : reasonText(a.body?.error?.code || 'network');
      return;
    }
  }
  person.account = { mode: link ? 'link' : 'new', id };
  person.topupMinor = amount;
  submit();
});

// ---------------------------------------------------------------- submit
async function submit() {
  show('submitting');
  const p = person;
  $('submitting-what').textContent = t('enroll.submitting_account');
  if (p.account.mode === 'new') {
    const a = await api('POST', '/v1/accounts', { json: { id: p.account.id, kind: 'stored_value' } });
    const code = a.body?.error?.code;
    if (!a.ok && code !== 'account_exists') return refuse(code || 'network');
  }
  $('submitting-what').textContent = t('enroll.submitting_face');
  const form = new FormData();
  form.append('id', p.id);
  form.append('text_version', t('enroll.consent_version'));
  form.append('channel', `kiosk:${kiosk}`.slice(0, 32));
  form.append('account_id', p.account.id);
  if (p.phone) form.append('phone_last4', p.phone);
  if (p.pin) form.append('pin', p.pin);
  form.append('frame_interval_ms', String(BURST_INTERVAL_MS));
  p.frames.forEach((f, i) => form.append('frames', f, `frame${i}.jpg`));
  if (p.challenge) form.append('challenge_id', p.challenge.id);
  const r = await api('POST', '/v1/subjects', { form, timeoutMs: 60000 });
  if (!r.ok) return refuse(r.body?.error?.code || r.body?.reason || 'network', r.body);
  let balance = null;
  if (p.topupMinor > 0) {
    $('submitting-what').textContent = t('enroll.submitting_topup');
    const tp = await api('POST', `/v1/accounts/${encodeURIComponent(p.account.id)}/topups`, {
      json: { idempotency_key: `enrol:${p.id}`, amount_minor: p.topupMinor },
    });
    if (!tp.ok) {
      $('submitting-what').textContent = reasonText(tp.body?.error?.code || 'network');
    }
  }
  const acct = await api('GET', `/v1/accounts/${encodeURIComponent(p.account.id)}`);
  if (acct.ok) balance = acct.body.balance_minor;
  done(r.body, balance);
}

function done(body, balance) {
  const p = person;
  const facts = [
    [t('enroll.your_id'), p.id],
    [t('enroll.your_account'), p.account.id],
    [t('enroll.your_balance'), balance === null ? '–' : money(balance)],
    [t('enroll.your_factors'), [p.phone ? t('enroll.factor_phone_set') : null, p.pin ? t('enroll.factor_pin_set') : null].filter(Boolean).join(' · ')],
    [t('enroll.consent_version_label'), t('enroll.consent_version')],
  ];
  if (p.challengeNote) facts.push([t('enroll.challenge_label'), p.challengeNote]);
  $('done-facts').replaceChildren(...facts.flatMap(([k, v], i) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dd.id = ['done-id', 'done-account', 'done-balance', 'done-factors', 'done-consent', 'done-challenge'][i];
    if (i === 2 && balance !== null) dd.dataset.minor = String(balance);
    return [dt, dd];
  }));
  show('done', 'result');
}

function refuse(code, body) {
  const r = refusalOf(code, body);
  $('refused-title').textContent = r.title;
  $('refused-text').textContent = r.text;
  $('refused-text').dataset.reason = code;
  show('refused', 'result');
}

$('done-again').addEventListener('click', () => toWelcome());
$('refused-again').addEventListener('click', () => toWelcome());

// ---------------------------------------------------------------- start
(async () => {
  translateStatic();
  $('k-where').textContent = t('enroll.where', { kiosk });
  document.body.dataset.state = 'pairing';
  session = await requirePairing({
    kind: 'kiosk', id: kiosk, root: $('pairing-root'),
    // Revoked: start over from the pairing screen (nothing of the person in progress is kept).
    onUnpaired: () => { stopChecks(); $('k-main').hidden = true; location.reload(); },
  });
  $('k-main').hidden = false;
  toWelcome();
})();
