// The till (/kiosk/till/{till}): the cashier types the amount and the order number, the
// customer looks at the camera, a burst pays (POST /v1/tills/{till}/payments, idempotent on the
// order number), a step-up asks the customer for the phone's last 4 digits; the receipt shows
// amount, order, transaction and the balance left; the cashier refunds by transaction number.
// A lost connection or a 5xx resends the same request (same order / refund id): never twice.
//
// <body data-state>: unpaired, sale, looking, capturing, sending, retrying, step_up, receipt,
// declined, refund, refunding, refunded, refund_declined.
import { t, reasonText, money } from './common/strings.js';
import { openCamera } from './common/camera.js';
import { requirePairing } from './common/pairing.js';
import { callRetrying, errorCode, newKey } from './common/retry.js';
import { $, translateStatic, show, Keypad, parseAmount, validId } from './kiosk_ui.js';
import { LiveCheck, setHint, takeBurst } from './desk_ui.js';

const till = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() || '');
const query = new URLSearchParams(location.search);
const CURRENCY = /^[A-Z]{3}$/.test(query.get('currency') || '') ? query.get('currency') : 'EUR';
const BURST_FRAMES = 8;
const BURST_INTERVAL_MS = 125;
const body = document.body;

let epoch = 0;        // bumped when the screen moves on: late answers are dropped
let sale = null;      // {amountMinor, orderId, tries}
let challenge = null;
let lastReceipt = null;
let cameraReady = null;
const live = new LiveCheck($('video'), { onOk: () => capture() });

const fmt = (minor) => money(minor, CURRENCY);
const current = (my) => () => my === epoch;

function sending(title, text = '') {
  $('sending-title').textContent = t(title);
  $('sending-text').textContent = text ? t(text) : '';
}

function send(path, opts, my, workingState, title) {
  return callRetrying('POST', path, opts, {
    current: current(my),
    onAttempt: (n) => {
      if (n === 1) { show(workingState, 'sending'); sending(title); }
    },
    onRetry: () => { show('retrying', 'sending'); sending(title, 'till.retrying'); },
  });
}

// ---------------------------------------------------------------- the sale
function freshOrder() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  const rand = Math.floor(Math.random() * 46656).toString(36).padStart(3, '0');
  return `${till}-${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}-${rand}`;
}

function toSale({ keep = false } = {}) {
  epoch += 1;
  live.stop();
  challenge = null;
  if (!keep) {
    $('amount').value = '';
    $('order').value = freshOrder();
    sale = null;
  }
  $('sale-error').textContent = '';
  show('sale');
  $('amount').focus();
}

$('order-new').addEventListener('click', () => { $('order').value = freshOrder(); });
$('sale-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const amountMinor = parseAmount($('amount').value);
  const orderId = $('order').value.trim();
  if (amountMinor === null) {
    $('sale-error').textContent = t('till.amount_invalid');
    $('amount').focus();
    return;
  }
  if (!validId(orderId, 128)) {
    $('sale-error').textContent = t('till.order_invalid');
    $('order').focus();
    return;
  }
  // A retry keeps its root order number (and how many tries it took); another number starts anew.
  const again = sale && sale.suggested === orderId;
  sale = { amountMinor, orderId, root: again ? sale.root : orderId, tries: again ? sale.tries : 1 };
  toCamera();
});

// ---------------------------------------------------------------- the customer's face
async function toCamera() {
  const my = ++epoch;
  show('looking', 'camera');
  $('camera-amount').textContent = `${t('till.to_pay', { amount: fmt(sale.amountMinor) })} · ${t('till.order_line', { order: sale.orderId })}`;
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
$('camera-cancel').addEventListener('click', () => toSale({ keep: true }));
$('capture-now').addEventListener('click', () => capture());

let capturing = false;
async function capture() {
  if (capturing || body.dataset.state !== 'looking') return;
  capturing = true;
  live.stop();
  const my = ++epoch;
  try {
    await takeBurst(BURST_FRAMES, BURST_INTERVAL_MS,
      { isCurrent: () => my === epoch, send: (frames) => pay(frames, my), fail: declined });
  } finally {
    capturing = false;
  }
}

async function pay(frames, my) {
  const form = new FormData();
  form.append('order_id', sale.orderId);
  form.append('amount_minor', String(sale.amountMinor));
  form.append('frame_interval_ms', String(BURST_INTERVAL_MS));
  frames.forEach((f, i) => form.append('frames', f, `frame${i}.jpg`));
  const r = await send(`/v1/tills/${encodeURIComponent(till)}/payments`, { form, timeoutMs: 20000 }, my, 'sending', 'till.working');
  if (r === null || my !== epoch) return;
  answer(r);
}

// A payment's or a step-up's answer.
function answer(r) {
  if (r.status === 401) return;
  if (!r.ok) return declined(errorCode(r));
  const d = r.body.decision || {};
  const s = r.body.settlement;
  if (d.outcome === 'accept') {
    if (s && s.outcome === 'approved' && s.receipt) return receipt(s);
    return declined((s && s.decline_reason) || 'no_linked_account');
  }
  if (d.outcome === 'step_up' && r.body.challenge) return stepUp(r.body.challenge);
  return declined(d.reason || 'no_match');
}

function receipt(s) {
  const rc = s.receipt;
  lastReceipt = { txnId: rc.txn_id, amountMinor: rc.amount_minor, orderId: sale.orderId };
  const cur = rc.currency || CURRENCY;
  $('r-amount').textContent = money(rc.amount_minor, cur);
  $('r-amount').dataset.minor = String(rc.amount_minor);
  $('r-order').textContent = sale.orderId;
  $('r-txn').textContent = String(rc.txn_id);
  $('r-txn').dataset.txn = String(rc.txn_id);
  const balance = rc.balance_after_minor ?? s.balance_minor;
  $('r-balance').textContent = money(balance, cur);
  $('r-balance').dataset.minor = String(balance);
  show('receipt');
}

function declined(code) {
  $('declined-text').textContent = code === 'camera_failed' ? t('camera.unavailable') : reasonText(code);
  $('declined-text').dataset.reason = code;
  $('declined-order').textContent = sale ? `${t('till.order_line', { order: sale.orderId })} · ${fmt(sale.amountMinor)}` : '';
  show('declined');
}

// A new try of the same sale: the order number is the payment's idempotency key (the server
// answers a reused one with the first answer, or refuses it with other frames), so it gets a
// visible suffix.
$('declined-retry').addEventListener('click', () => {
  if (!sale) return toSale();
  sale.tries += 1;
  sale.suggested = `${sale.root.slice(0, 120)}-${sale.tries}`;
  $('amount').value = (sale.amountMinor / 100).toFixed(2);
  $('order').value = sale.suggested;
  toSale({ keep: true });
});
$('declined-new').addEventListener('click', () => toSale());
$('r-new').addEventListener('click', () => toSale());

// ---------------------------------------------------------------- step-up: phone digits
const keypad = new Keypad($('keypad'), () => renderDigits());
function renderDigits() {
  const v = keypad.value;
  const boxes = [];
  for (let i = 0; i < 4; i += 1) {
    const b = document.createElement('span');
    b.className = `k-digit ${i < v.length ? 'on' : ''}`;
    b.textContent = i < v.length ? v[i] : '';
    boxes.push(b);
  }
  $('stepup-digits').replaceChildren(...boxes);
  $('stepup-digits').dataset.count = String(v.length);
}
function stepUp(ch, message = '') {
  challenge = ch;
  keypad.reset(4);
  $('stepup-msg').textContent = message;
  body.dataset.attemptsLeft = String(ch.attempts ?? '');
  show('step_up');
}
$('stepup-cancel').addEventListener('click', () => declined('challenge_used'));
$('stepup-ok').addEventListener('click', async () => {
  if (!challenge) return;
  if (keypad.value.length !== 4) {
    $('stepup-msg').textContent = t('gate.stepup_need4');
    return;
  }
  const my = ++epoch;
  const ch = challenge;
  const r = await send(`/v1/tills/${encodeURIComponent(till)}/payments/${encodeURIComponent(ch.id)}/step-up`,
    { json: { phone_last4: keypad.value } }, my, 'sending', 'till.working');
  if (r === null || my !== epoch) return;
  if (r.ok && !r.body.settlement && r.body.attempts_left !== undefined) {
    const left = Number(r.body.attempts_left);
    if (left > 0) return stepUp({ ...ch, attempts: left }, t('till.stepup_left', { n: left }));
    return declined('step_up_failed');
  }
  answer(r);
});

// ---------------------------------------------------------------- refund
function toRefund(prefill) {
  epoch += 1;
  live.stop();
  $('refund-txn').value = prefill ? String(prefill.txnId) : '';
  $('refund-amount').value = '';
  $('refund-error').textContent = '';
  show('refund');
  (prefill ? $('refund-amount') : $('refund-txn')).focus();
}
$('refund-open').addEventListener('click', () => toRefund(null));
$('r-refund').addEventListener('click', () => toRefund(lastReceipt));
$('refund-back').addEventListener('click', () => toSale());
$('rfd-back').addEventListener('click', () => show('refund'));
$('rfd-new').addEventListener('click', () => toSale());
$('rf-new').addEventListener('click', () => toSale());

$('refund-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const txnText = $('refund-txn').value.trim();
  if (!/^[1-9]\d{0,15}$/.test(txnText)) {
    $('refund-error').textContent = t('till.refund_txn_invalid');
    $('refund-txn').focus();
    return;
  }
  const json = { refund_id: newKey(`rf-${till}`), txn_id: Number(txnText) };
  if ($('refund-amount').value.trim()) {
    const a = parseAmount($('refund-amount').value);
    if (a === null) {
      $('refund-error').textContent = t('till.refund_amount_invalid');
      $('refund-amount').focus();
      return;
    }
    json.amount_minor = a;
  }
  const my = ++epoch;
  const r = await send(`/v1/tills/${encodeURIComponent(till)}/refunds`, { json }, my, 'refunding', 'till.working_refund');
  if (r === null || my !== epoch) return;
  if (r.status === 401) return;
  if (r.ok && r.body.outcome === 'approved' && r.body.receipt) {
    const rc = r.body.receipt;
    const cur = rc.currency || CURRENCY;
    $('refunded-title').textContent = t('till.refunded', { amount: money(rc.amount_minor, cur) });
    $('refunded-title').dataset.minor = String(rc.amount_minor);
    $('rf-of').textContent = txnText;
    $('rf-txn').textContent = String(rc.txn_id);
    $('rf-txn').dataset.txn = String(rc.txn_id);
    $('rf-balance').textContent = money(rc.balance_after_minor, cur);
    $('rf-balance').dataset.minor = String(rc.balance_after_minor);
    show('refunded');
    return;
  }
  const code = r.ok ? (r.body.decline_reason || 'card_declined') : errorCode(r);
  $('refund-declined-text').textContent = reasonText(code);
  $('refund-declined-text').dataset.reason = code;
  show('refund_declined');
});

// ---------------------------------------------------------------- start
(async () => {
  translateStatic();
  $('k-where').textContent = t('till.where', { till });
  $('amount-label').textContent = t('till.amount', { currency: CURRENCY });
  $('refund-amount-label').textContent = t('till.refund_amount');
  body.dataset.state = 'pairing';
  await requirePairing({
    kind: 'till', id: till, root: $('pairing-root'),
    onUnpaired: () => { epoch += 1; live.stop(); $('k-main').hidden = true; location.reload(); },
  });
  $('k-main').hidden = false;
  toSale();
})();
