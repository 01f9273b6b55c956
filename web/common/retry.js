// Sending one terminal request until it gets an answer: the gate, the till and the border desk
// resend the SAME request (same body, so the same event id / order id / refund id) while the
// server cannot be reached or answers 5xx, 408 or rate_limited. The server settles a request
// once per idempotency key, so a resend never charges twice.
import { call } from './api.js';

export function retryable(r) {
  if (r.status === 0 || r.status >= 500 || r.status === 408) return true;
  return r.status === 429 && !!r.body && !!r.body.error && r.body.error.code === 'rate_limited';
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// -> the answer ({ok, status, body}) or null when `current()` turned false meanwhile (the screen
// moved on). onRetry(attempt) before each resend; waits 250 ms, 500 ms, 1 s, then 2 s between
// tries, for at most maxMs in all (then the last failed answer is returned).
export async function callRetrying(method, path, opts, { maxMs = 120000, timeoutMs = 15000, onRetry, onAttempt, current = () => true } = {}) {
  const started = performance.now();
  let delay = 250;
  for (let attempt = 1; ; attempt += 1) {
    if (onAttempt) onAttempt(attempt);
    const r = await call(method, path, { ...opts, timeoutMs });
    if (!current()) return null;
    if (!retryable(r) || performance.now() - started > maxMs) return r;
    if (onRetry) onRetry(attempt + 1, r);
    await sleep(delay);
    if (!current()) return null;
    delay = Math.min(2000, delay * 2);
  }
}

export function errorCode(r) {
  return (r.body && r.body.error && r.body.error.code) || (r.status === 0 ? 'network' : 'internal');
}

// An idempotency key of `prefix`: prefix:time:random, within [A-Za-z0-9_.:-]{1,128}.
export function newKey(prefix) {
  const b = new Uint8Array(8);
  crypto.getRandomValues(b);
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${prefix}:${Date.now().toString(36)}:${hex}`.slice(0, 128);
}
