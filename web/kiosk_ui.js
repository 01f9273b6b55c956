// Pieces the enrolment kiosk and the erasure screen share: screens, the on-screen keypad, the
// challenge prompts (recording frames while they are shown), refusals in plain words.
import { t, reasonText } from './common/strings.js';

export const $ = (id) => document.getElementById(id);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function translateStatic(root = document) {
  for (const e of root.querySelectorAll('[data-t]')) e.textContent = t(e.dataset.t);
}

const STEP_OF = {
  welcome: 'welcome', consent: 'consent', camera: 'camera', capturing: 'camera', challenge: 'camera',
  factors: 'factors', account: 'account', submitting: 'account', done: 'result', refused: 'result',
};

// Shows the screen `screen` (default: the state's own) and records the state on <body>.
export function show(state, screen = state) {
  const s = STEP_OF[state] === 'result' ? (state === 'done' ? 'done' : 'refused') : screen;
  for (const e of document.querySelectorAll('[data-screen]')) e.hidden = e.dataset.screen !== s;
  document.body.dataset.state = state;
  const step = STEP_OF[state];
  let seen = true;
  for (const li of document.querySelectorAll('[data-step]')) {
    const here = li.dataset.step === step;
    li.className = here ? 'now' : seen ? 'past' : '';
    if (here) seen = false;
  }
}

export function money(minor) {
  const n = Number(minor) || 0;
  return `${t('common.currency_symbol')}${(n / 100).toFixed(2)}`;
}

// "12", "12.5", "12,50" → minor units; null when not a positive amount up to 10,000.00.
export function parseAmount(text) {
  const s = String(text).trim().replace(',', '.');
  if (!/^\d{1,5}(\.\d{1,2})?$/.test(s)) return null;
  const minor = Math.round(Number(s) * 100);
  return minor > 0 && minor <= 1_000_000 ? minor : null;
}

export function validId(id, max) {
  return typeof id === 'string' && id.length >= 1 && id.length <= max && /^[A-Za-z0-9_.:-]+$/.test(id);
}

// p- and 8 characters of Crockford base32 (no I, L, O, U): readable aloud, 40 bits.
export function newSubjectId() {
  const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';
  const b = new Uint8Array(8);
  crypto.getRandomValues(b);
  let s = 'p-';
  for (const x of b) s += alphabet[x & 31];
  return s;
}

// An on-screen keypad: digits, delete, clear. `onChange` after every key.
export class Keypad {
  constructor(root, onChange) {
    this.root = root;
    this.value = '';
    this.max = 8;
    this.onChange = onChange;
    const keys = ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'clear', '0', 'back'];
    root.replaceChildren(...keys.map((k) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = `k-key ${/\d/.test(k) ? '' : 'k-key-fn'}`;
      b.dataset.key = k;
      b.textContent = k === 'back' ? '⌫' : k === 'clear' ? t('common.key_clear') : k;
      b.setAttribute('aria-label', k === 'back' ? t('common.key_back') : k === 'clear' ? t('common.key_clear') : k);
      b.addEventListener('click', () => this.press(k));
      return b;
    }));
  }
  reset(max) {
    this.value = '';
    this.max = max;
    this.onChange();
  }
  press(k) {
    if (k === 'back') this.value = this.value.slice(0, -1);
    else if (k === 'clear') this.value = '';
    else if (this.value.length < this.max) this.value += k;
    this.onChange();
  }
}

const ICONS = { blink: '◉ ◉', turn_left: '⟵', turn_right: '⟶', smile: '◡', look: '◎' };

// Draws each action's prompt for its share of time while recording frames at a steady interval:
// first a short "look straight" (the server's baseline), then the actions in the server's
// order. `opts.live()` false stops early (the person chose another way). Returns
// {frames: Blob[], intervalMs}.
export async function prompts(video, actions, stepTimeoutMs, grab, opts = {}) {
  const baselineMs = opts.baselineMs ?? 900;
  const stepMs = Math.min(stepTimeoutMs, opts.stepMs ?? 2200);
  const maxFrames = opts.maxFrames ?? 48;
  const total = baselineMs + stepMs * actions.length;
  const intervalMs = Math.max(opts.minIntervalMs ?? 120, Math.ceil(total / maxFrames));
  const frames = [];
  const box = $('prompt');
  box.hidden = false;
  const schedule = [{ action: 'look', ms: baselineMs }, ...actions.map((a) => ({ action: a, ms: stepMs }))];
  const t0 = performance.now();
  let slot = 0;
  let start = t0;
  const live = opts.live || (() => true);
  for (let i = 0; i < schedule.length && live(); i++) {
    const { action, ms } = schedule[i];
    $('prompt-icon').textContent = ICONS[action] || '•';
    $('prompt-text').textContent = t(`enroll.do_${action}`);
    box.dataset.action = action;
    box.dataset.step = String(i);
    document.body.dataset.prompt = action;
    const end = start + ms;
    while (performance.now() < end && live()) {
      const due = t0 + slot * intervalMs;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      $('prompt-bar').style.width = `${Math.min(100, ((performance.now() - start) / ms) * 100)}%`;
      if (frames.length < maxFrames) {
        const f = await grab(video);
        if (f) frames.push(f);
      }
      slot++;
    }
    start = end;
  }
  box.hidden = true;
  delete document.body.dataset.prompt;
  return { frames, intervalMs };
}

// A refusal in plain words: {title, text}.
export function refusalOf(code, body) {
  const known = {
    duplicate_subject: 'enroll.refused_duplicate',
    spoof: 'enroll.refused_spoof',
    no_usable_image: 'enroll.refused_no_image',
    multiple_faces: 'enroll.refused_multiple',
    subject_exists: 'enroll.refused_id_taken',
    account_linked: 'enroll.refused_account_linked',
    challenge_failed: 'enroll.refused_challenge',
    challenge_expired: 'enroll.refused_challenge_expired',
    challenge_not_found: 'enroll.refused_challenge_expired',
    challenge_used: 'enroll.refused_challenge_expired',
    challenge_face_mismatch: 'enroll.refused_challenge_face',
    camera_failed: 'enroll.refused_camera',
  };
  const key = known[code] || (/^challenge/.test(code || '') ? 'enroll.refused_challenge' : null);
  if (key) return { title: t(`${key}_title`), text: t(key) };
  return { title: t('enroll.refused_title'), text: reasonText(code) || (body && body.error && body.error.message) || code };
}
