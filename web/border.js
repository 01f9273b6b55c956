// The border desk (/kiosk/border/{post}): the officer picks the document photo and types its
// number, the traveller looks at the camera, a burst goes with the document to
// POST /v1/borders/{post}/checks; the answer is the 1:1 face match (with its score only when the
// key's role may see scores), the watchlist hits and the decision admitted / referred /
// refused, in big colour. A lost connection or a 5xx resends the same check.
//
// <body data-state>: unpaired, document, looking, capturing, sending, retrying, verdict, failed.
import { t, reasonText } from './common/strings.js';
import { openCamera } from './common/camera.js';
import { requirePairing } from './common/pairing.js';
import { callRetrying, errorCode } from './common/retry.js';
import { $, translateStatic, show } from './kiosk_ui.js';
import { LiveCheck, setHint, takeBurst, facts } from './desk_ui.js';

const post = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() || '');
// The server takes at most 8 images per request, the document photo included (413
// too_many_images otherwise): 7 frames of the traveller.
const BURST_FRAMES = 7;
const BURST_INTERVAL_MS = 125;
const MAX_PHOTO_BYTES = 8 << 20;
const body = document.body;

let epoch = 0;
let doc = null;        // {number, photo: Blob}
let previewUrl = '';
let cameraReady = null;
const live = new LiveCheck($('video'), { onOk: () => capture() });

// ---------------------------------------------------------------- the document
function toDocument() {
  epoch += 1;
  live.stop();
  doc = null;
  $('doc-form').reset();
  setPreview(null);
  $('doc-error').textContent = '';
  show('document');
}

function setPreview(file) {
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = '';
  const box = $('doc-preview');
  if (!file) {
    const s = document.createElement('span');
    s.textContent = t('border.doc_none');
    box.replaceChildren(s);
    box.classList.remove('has');
    return;
  }
  previewUrl = URL.createObjectURL(file);
  const img = document.createElement('img');
  img.src = previewUrl;
  img.alt = t('border.doc_photo');
  box.replaceChildren(img);
  box.classList.add('has');
}

$('doc-photo').addEventListener('change', () => {
  const f = $('doc-photo').files[0];
  $('doc-error').textContent = '';
  setPreview(f && /^image\//.test(f.type) ? f : null);
});

$('doc-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const number = $('doc-number').value.trim().toUpperCase();
  const photo = $('doc-photo').files[0];
  if (!photo && !number) { $('doc-error').textContent = t('border.need_doc'); return; }
  if (!photo || !/^image\/(jpeg|png|webp|bmp)$/.test(photo.type) || photo.size > MAX_PHOTO_BYTES) {
    $('doc-error').textContent = t('border.doc_photo_invalid');
    return;
  }
  if (!/^[A-Z0-9<-]{1,32}$/.test(number)) {
    $('doc-error').textContent = t('border.doc_number_invalid');
    $('doc-number').focus();
    return;
  }
  doc = { number, photo };
  toCamera();
});

// ---------------------------------------------------------------- the traveller
async function toCamera() {
  const my = ++epoch;
  show('looking', 'camera');
  $('camera-doc').textContent = t('border.document', { number: doc.number });
  $('capture-now').disabled = false;
  setHint('starting');
  try {
    if (!cameraReady) cameraReady = openCamera($('video'));
    await cameraReady;
  } catch {
    cameraReady = null;
    setHint('no_camera');
    return;
  }
  if (my !== epoch) return;
  live.start();
}
$('camera-cancel').addEventListener('click', () => toDocument());
$('capture-now').addEventListener('click', () => capture());

let capturing = false;
async function capture() {
  if (capturing || body.dataset.state !== 'looking') return;
  capturing = true;
  live.stop();
  const my = ++epoch;
  try {
    await takeBurst(BURST_FRAMES, BURST_INTERVAL_MS,
      { isCurrent: () => my === epoch, send: (frames) => check(frames, my), fail: failed });
  } finally {
    capturing = false;
  }
}

async function check(frames, my) {
  const form = new FormData();
  form.append('document_number', doc.number);
  form.append('document_photo', doc.photo, doc.photo.name || 'document.jpg');
  form.append('frame_interval_ms', String(BURST_INTERVAL_MS));
  frames.forEach((f, i) => form.append('frames', f, `frame${i}.jpg`));
  const r = await callRetrying('POST', `/v1/borders/${encodeURIComponent(post)}/checks`, { form }, {
    timeoutMs: 20000,
    current: () => my === epoch,
    onAttempt: (n) => {
      if (n === 1) { show('sending'); $('sending-text').textContent = ''; }
    },
    onRetry: () => { show('retrying', 'sending'); $('sending-text').textContent = t('border.retrying'); },
  });
  if (r === null || my !== epoch) return;
  if (r.status === 401) return;
  if (!r.ok) return failed(errorCode(r));
  verdict(r.body);
}

// ---------------------------------------------------------------- the verdict
const ICON = { admitted: '✓', referred: '?', refused: '✕' };

function verdict(b) {
  const decision = ['admitted', 'referred', 'refused'].includes(b.decision) ? b.decision : 'referred';
  const v = document.querySelector('[data-screen="verdict"]');
  v.dataset.decision = decision;
  body.dataset.decision = decision;
  $('verdict-icon').textContent = ICON[decision];
  $('verdict-title').textContent = t(`border.${decision}`);
  $('verdict-text').textContent = t(`border.${decision}_text`);

  const face = $('v-face');
  const fm = b.face_match;
  face.replaceChildren();
  face.className = !fm ? 'unknown' : fm.match ? 'good' : 'bad';
  face.dataset.match = !fm ? '' : String(!!fm.match);
  face.append(t(!fm ? 'border.face_unknown' : fm.match ? 'border.face_match' : 'border.face_no_match'));
  if (fm && typeof fm.score === 'number') {
    const s = document.createElement('span');
    s.className = 'd-score';
    s.id = 'v-score';
    s.dataset.score = String(fm.score);
    s.textContent = t('border.score', { score: fm.score.toFixed(3), threshold: Number(fm.threshold).toFixed(3) });
    face.append(s);
  }

  const wl = $('v-watchlist');
  const hits = (b.watchlist && b.watchlist.hits) || [];
  wl.className = !b.watchlist ? 'unknown' : hits.length ? 'bad' : 'good';
  wl.dataset.hits = String(hits.length);
  wl.textContent = !b.watchlist ? t('border.watchlist_unknown')
    : hits.length ? t('border.watchlist_hit', { n: hits.length, ids: hits.map((h) => h.subject_id).join(', ') })
      : t('border.watchlist_clear');

  const reason = $('v-reason');
  reason.dataset.reason = b.reason || '';
  const officerWhy = t(`border.why.${b.reason}`);
  const why = officerWhy !== `border.why.${b.reason}` ? officerWhy : reasonText(b.reason);
  reason.textContent = b.reason ? t('border.reason', { why }) : '';
  reason.hidden = !b.reason;

  facts($('v-facts'), [
    [t('border.doc_number'), doc.number, 'v-doc'],
    [t('border.crossing', { id: '' }).trim(), String(b.crossing_id ?? '–'), 'v-crossing'],
  ]);
  show('verdict');
}

function failed(code) {
  $('failed-text').textContent = code === 'camera_failed' ? t('camera.unavailable') : reasonText(code);
  $('failed-text').dataset.reason = code;
  show('failed');
}

$('verdict-next').addEventListener('click', () => toDocument());
$('verdict-again').addEventListener('click', () => { if (doc) toCamera(); else toDocument(); });
$('failed-next').addEventListener('click', () => toDocument());

// ---------------------------------------------------------------- start
(async () => {
  translateStatic();
  $('k-where').textContent = t('border.where', { post });
  body.dataset.state = 'pairing';
  await requirePairing({
    kind: 'border', id: post, root: $('pairing-root'),
    onUnpaired: () => { epoch += 1; live.stop(); $('k-main').hidden = true; location.reload(); },
  });
  $('k-main').hidden = false;
  toDocument();
})();
