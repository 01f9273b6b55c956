// The only place a page talks to the server: the public /v1 API of the facepay serve that
// served the page (same origin; no CDN, no other host). HTTP errors are values, never thrown.

const PREFIX = 'facepay.token.';
let scope = '';  // the page's token scope ("gate:g1", "admin", "kiosk:desk1")

export function useScope(s) { scope = s; }
export function storeToken(s, token) { localStorage.setItem(PREFIX + s, token); }
export function loadToken(s) { return localStorage.getItem(PREFIX + s) || ''; }
export function forgetToken(s) { localStorage.removeItem(PREFIX + s); }
export function terminalToken() { return scope ? loadToken(scope) : ''; }

// call(method, path, {json, form, token, timeoutMs, signal}) -> {ok, status, body}
// `form` is a FormData (frames as Blobs); `json` an object. A network failure or a timeout is
// {ok: false, status: 0, body: {error: {code: 'network'}}}. A 401 fires 'facepay:unpaired'.
export async function call(method, path, { json, form, token, timeoutMs = 15000, signal } = {}) {
  const headers = {};
  const key = token === undefined ? terminalToken() : token;
  if (key) headers.Authorization = 'Bearer ' + key;
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  if (signal) signal.addEventListener('abort', () => ctl.abort(), { once: true });
  try {
    const res = await fetch(path, { method, headers, body, signal: ctl.signal, cache: 'no-store' });
    let parsed = null;
    const text = await res.text();
    try { parsed = text ? JSON.parse(text) : null; } catch { parsed = { text }; }
    if (res.status === 401) window.dispatchEvent(new CustomEvent('facepay:unpaired'));
    return { ok: res.ok, status: res.status, body: parsed };
  } catch (e) {
    return { ok: false, status: 0, body: { error: { code: 'network', message: String(e) } } };
  } finally {
    clearTimeout(timer);
  }
}
