// Guided camera calibration (/kiosk/calibrate/{camera}, e.g. /kiosk/calibrate/gate:g2), opened
// by staff on the terminal's own screen: the server draws random movements, the page prompts them
// while recording, and only a passage whose movements the server saw counts. After enough
// passages the staff member saves the calibration (POST /v1/cameras/{camera}/calibration).
// The admin key is typed for this calibration and kept in memory only: the terminal holds no
// secret. State in body.dataset.state; docs/liveness.md, "Calibrating a camera on the server".
import { call } from './common/api.js';
import { t } from './common/strings.js';
import { openCamera, grabJpeg } from './common/camera.js';
import { $, translateStatic, show, prompts } from './kiosk_ui.js';

const camera = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() || '');
let token = '';
let cameraReady = null;
let busy = false;

const api = (method, path, opts = {}) => call(method, path, { ...opts, token });
const base = () => `/v1/cameras/${encodeURIComponent(camera)}`;

function errorOf(res) {
  const e = res.body && res.body.error;
  if (res.status === 401 || res.status === 403) return t('cal.err_key');
  if (e && e.code === 'unknown_camera') return t('cal.err_camera', { camera });
  return (e && e.message) || t('cal.err_network');
}

function offsetText(x) { return `${x >= 0 ? '+' : ''}${Number(x).toFixed(2)}`; }

function stateLine(c) {
  if (!c.calibrated) return t('cal.state_none', { offset: offsetText(c.judged_offset) });
  return t('cal.state_calibrated', { offset: offsetText(c.judged_offset), source: t(`admin.cam_source_${c.source}`, { n: c.refinements }) });
}

function progressLine(p) {
  return t('cal.progress', { p: p.passages, pn: p.passages_needed, f: p.frames, fn: p.frames_needed });
}

async function signIn(e) {
  e.preventDefault();
  token = $('signin-key').value.trim();
  const who = await api('GET', '/v1/session');
  if (!who.ok || who.body.role !== 'admin') {
    token = '';
    $('signin-error').textContent = who.ok || who.status === 401 || who.status === 403 ? t('cal.err_key') : errorOf(who);
    return;
  }
  const res = await api('GET', base());
  if (!res.ok) {
    token = '';
    $('signin-error').textContent = errorOf(res);
    return;
  }
  $('signin-key').value = '';
  $('signin-error').textContent = '';
  $('intro-state').textContent = stateLine(res.body);
  show('intro');
}

async function toCamera() {
  show('camera');
  $('cal-save').hidden = true;
  $('cal-next').hidden = false;
  $('passage-result').textContent = '';
  $('progress').textContent = '';
  try {
    if (!cameraReady) cameraReady = openCamera($('video'));
    await cameraReady;
  } catch {
    cameraReady = null;
    $('passage-result').textContent = t('enroll.hint_no_camera');
    return;
  }
  passage();
}

// One passage: a challenge, the prompts while recording, the server's verdict.
async function passage() {
  if (busy) return;
  busy = true;
  $('cal-next').disabled = true;
  try {
    const res = await api('POST', `${base()}/calibration/challenges`, { json: {} });
    if (!res.ok) { $('passage-result').textContent = errorOf(res); return; }
    const c = res.body;
    document.body.dataset.challenge = (c.actions || []).join(',');
    $('passage-result').textContent = '';
    const rec = await prompts($('video'), c.actions || [], Number(c.step_timeout_ms) || 4000, grabJpeg,
      { maxFrames: Number(c.max_frames) || 48 });
    $('passage-result').textContent = t('cal.checking');
    const form = new FormData();
    form.append('frame_interval_ms', String(rec.intervalMs));
    rec.frames.forEach((f, i) => form.append('frames', f, `passage${i}.jpg`));
    const r = await api('POST', `${base()}/calibration/challenges/${encodeURIComponent(c.challenge_id)}/responses`,
      { form, timeoutMs: 60000 });
    if (!r.ok) { $('passage-result').textContent = errorOf(r); return; }
    const passed = r.body.result === 'passed';
    document.body.dataset.tries = String(Number(document.body.dataset.tries || 0) + 1);
    document.body.dataset.passage = passed ? 'passed' : `failed:${r.body.failure}`;
    $('passage-result').textContent = passed ? t('cal.passed') : t('cal.failed');
    $('passage-result').className = `k-hint ${passed ? 'ok' : 'warn'}`;
    const p = r.body.calibration;
    $('progress').textContent = progressLine(p);
    document.body.dataset.passages = String(p.passages);
    $('cal-save').hidden = !p.ready;
  } finally {
    busy = false;
    $('cal-next').disabled = false;
  }
}

async function save() {
  const before = await api('GET', base());
  const r = await api('POST', `${base()}/calibration`, { json: {} });
  if (!r.ok) { $('passage-result').textContent = errorOf(r); return; }
  $('done-title').textContent = t('cal.done_title', { camera });
  $('done-text').textContent = t('cal.done_text', {
    before: before.ok ? offsetText(before.body.judged_offset) : '?', after: offsetText(r.body.judged_offset),
  });
  finish('done');
}

function finish(state) {
  token = '';  // the key is not kept past the calibration
  show(state);
}

function init() {
  translateStatic();
  $('k-where').textContent = t('cal.where', { camera });
  $('signin-form').addEventListener('submit', signIn);
  $('intro-go').addEventListener('click', toCamera);
  $('cal-next').addEventListener('click', passage);
  $('cal-save').addEventListener('click', save);
  $('cal-stop').addEventListener('click', () => {
    $('done-title').textContent = t('cal.stopped_title');
    $('done-text').textContent = t('cal.stopped_text');
    finish('done');
  });
  $('done-again').addEventListener('click', () => show('signin'));
  show('signin');
}

init();
