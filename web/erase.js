// Self-service erasure (/kiosk/erase/{kiosk}): look at the camera, type the PIN → the face data
// is deleted (what is kept and why is shown), or a plain refusal. State in body.dataset.state.
import { call } from './common/api.js';
import { t, reasonText } from './common/strings.js';
import { openCamera, grabJpeg, captureBurst } from './common/camera.js';
import { requirePairing } from './common/pairing.js';
import { $, translateStatic, show, Keypad, sleep } from './kiosk_ui.js';

const kiosk = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() || '');
const BURST_FRAMES = 8;
const BURST_INTERVAL_MS = 100;
const CHECK_EVERY_MS = 700;

let session = null;
let cameraReady = null;
let checking = 0;
let checkBusy = false;
let okStreak = 0;
let frames = [];
let capturing = false;

// The paired key is the page's scope in common/api.js (set by requirePairing): no token here.
const api = (method, path, opts = {}) => call(method, path, opts);

function setHint(hint) {
  const h = $('hint');
  h.dataset.hint = hint;
  h.textContent = t(`enroll.hint_${hint}`);
  h.className = `k-hint ${hint === 'ok' ? 'ok' : hint === 'starting' ? '' : 'warn'}`;
  $('guide').className = `k-guide ${hint === 'ok' ? 'ok' : ''}`;
}

function toWelcome() {
  clearInterval(checking);
  frames = [];
  show('welcome');
}

async function toCamera() {
  show('camera');
  $('capture-go').disabled = false;
  setHint('starting');
  try {
    if (!cameraReady) cameraReady = openCamera($('video'));
    await cameraReady;
  } catch (e) {
    cameraReady = null;
    setHint('no_camera');
    return;
  }
  okStreak = 0;
  clearInterval(checking);
  checking = setInterval(checkOnce, CHECK_EVERY_MS);
  checkOnce();
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
    if (!res.ok) {
      if (res.status === 404) clearInterval(checking);
      setHint(res.status === 0 ? 'offline' : 'unavailable');
      return;
    }
    setHint(res.body.hint || 'no_face');
    okStreak = res.body.hint === 'ok' ? okStreak + 1 : 0;
    if (okStreak >= 2) capture();
  } finally {
    checkBusy = false;
  }
}

async function capture() {
  if (capturing) return;
  capturing = true;
  clearInterval(checking);
  try {
    show('capturing', 'camera');
    $('capture-go').disabled = true;
    setHint('hold_still_now');
    $('flash').hidden = false;
    frames = await captureBurst($('video'), BURST_FRAMES, BURST_INTERVAL_MS);
    $('flash').hidden = true;
    toPin();
  } catch (e) {
    refuse('camera_failed');
  } finally {
    $('flash').hidden = true;
    capturing = false;
  }
}

const keypad = new Keypad($('keypad'), () => {
  const v = keypad.value;
  const boxes = [];
  for (let i = 0; i < Math.max(4, v.length); i++) {
    const b = document.createElement('span');
    b.className = `k-digit ${i < v.length ? 'on' : ''}`;
    b.textContent = i < v.length ? '●' : '';
    boxes.push(b);
  }
  $('pin-digits').replaceChildren(...boxes);
  $('pin-digits').dataset.count = String(v.length);
});

function toPin() {
  show('pin');
  $('pin-error').textContent = '';
  keypad.reset(12);
}

async function submit() {
  const pin = keypad.value;
  if (pin.length < 4) { $('pin-error').textContent = t('erase.pin_short'); return; }
  show('submitting');
  const form = new FormData();
  form.append('pin', pin);
  form.append('frame_interval_ms', String(BURST_INTERVAL_MS));
  frames.forEach((f, i) => form.append('frames', f, `frame${i}.jpg`));
  const res = await api('POST', `/v1/kiosks/${encodeURIComponent(kiosk)}/erasures`, { form, timeoutMs: 60000 });
  frames = [];
  if (res.ok && res.body.erased) {
    $('done-text').textContent = t('erase.done_text');
    $('done-text').dataset.subject = res.body.subject_id || '';
    const kept = Array.isArray(res.body.kept) && res.body.kept.length ? res.body.kept : [t('erase.kept_ledger'), t('erase.kept_audit')];
    $('kept-list').replaceChildren(...kept.map((k) => {
      const li = document.createElement('li');
      li.textContent = k;
      return li;
    }));
    show('done');
    return;
  }
  refuse(res.ok ? res.body.result || 'not_recognised' : res.body?.error?.code || 'network');
}

function refuse(code) {
  const known = { not_recognised: 'erase.refused_not_recognised', locked: 'erase.refused_locked', second_factor_locked: 'erase.refused_locked', camera_failed: 'enroll.refused_camera' };
  const key = known[code];
  $('refused-title').textContent = t(key ? `${key}_title` : 'erase.refused_title');
  $('refused-text').textContent = key ? t(key) : reasonText(code);
  $('refused-text').dataset.reason = code;
  show('refused');
}

$('erase-start').addEventListener('click', () => toCamera());
$('camera-back').addEventListener('click', () => toWelcome());
$('capture-go').addEventListener('click', () => capture());
$('pin-back').addEventListener('click', () => toWelcome());
$('pin-go').addEventListener('click', () => submit());
$('done-again').addEventListener('click', () => toWelcome());
$('refused-again').addEventListener('click', () => toWelcome());

(async () => {
  translateStatic();
  $('k-where').textContent = t('erase.where', { kiosk });
  document.body.dataset.state = 'pairing';
  session = await requirePairing({
    kind: 'kiosk', id: kiosk, root: $('pairing-root'),
    onUnpaired: () => { clearInterval(checking); $('k-main').hidden = true; location.reload(); },
  });
  $('k-main').hidden = false;
  await sleep(0);
  toWelcome();
})();
