// Pairing: a page holds no key in its source or URL. Until it is paired it shows "not paired"
// and a code entry (with an on-screen keypad: a gate has no keyboard) and calls nothing but
// POST /v1/pairing and GET /v1/session. Once paired it keeps its key in localStorage and polls
// /v1/session every 500 ms: a revoked key un-pairs the screen within a second.
import { call, useScope, storeToken, loadToken, forgetToken } from './api.js';
import { t } from './strings.js';

const POLL_MS = 500;
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of kids) e.append(c);
  return e;
}

function renderUnpaired(root, kind, id, onCode) {
  document.body.dataset.state = 'unpaired';
  root.replaceChildren();
  root.hidden = false;
  const input = el('input', { id: 'pair-code', class: 'pair-code', autocomplete: 'off', spellcheck: 'false',
                              maxlength: '11', 'aria-label': t('pair.code_label') });
  const msg = el('p', { id: 'pair-msg', class: 'pair-msg', role: 'status' });
  const submit = el('button', { id: 'pair-submit', class: 'big primary', type: 'button', text: t('pair.submit') });
  const pad = el('div', { class: 'pair-keys' });
  for (const ch of ALPHABET) {
    const b = el('button', { type: 'button', class: 'key', text: ch });
    b.addEventListener('click', () => { if (input.value.replace(/-/g, '').length < 8) input.value += ch; tidy(); });
    pad.append(b);
  }
  const back = el('button', { type: 'button', class: 'key wide', text: t('common.key_back') });
  back.addEventListener('click', () => { input.value = input.value.replace(/-?.$/, ''); });
  pad.append(back);
  function tidy() {
    const raw = input.value.toUpperCase().replace(/[^0-9A-Z]/g, '').slice(0, 8);
    input.value = raw.length > 4 ? raw.slice(0, 4) + '-' + raw.slice(4) : raw;
  }
  input.addEventListener('input', tidy);
  const go = async () => {
    submit.disabled = true;
    msg.textContent = t('pair.working');
    msg.textContent = await onCode(input.value);
    submit.disabled = false;
  };
  submit.addEventListener('click', go);
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter') go(); });
  root.append(el('section', { class: 'pair card' },
    el('h1', { text: t('pair.title') }),
    el('p', { class: 'lead', text: t('pair.text', { kind: t('pair.kind.' + kind), id }) }),
    input, pad, submit, msg));
}

// Resolves with the session ({key_id, role, bindings}) once the screen is paired; afterwards
// calls onUnpaired() (if given) and shows the pairing screen again when the key stops working.
export function requirePairing({ kind, id, root, onUnpaired }) {
  const scope = kind + ':' + id;
  useScope(scope);
  let paired = false;
  let resolveFirst;
  const first = new Promise((r) => { resolveFirst = r; });

  const unpair = () => {
    if (!paired) return;
    paired = false;
    forgetToken(scope);
    if (onUnpaired) onUnpaired();
    ask();
  };
  window.addEventListener('facepay:unpaired', unpair);

  const becomePaired = (session) => {
    paired = true;
    root.replaceChildren();
    root.hidden = true;
    resolveFirst(session);
  };

  async function ask() {
    renderUnpaired(root, kind, id, async (code) => {
      const r = await call('POST', '/v1/pairing', { json: { code }, token: '' });
      if (r.status === 201) {
        if (r.body.kind !== kind || r.body.id !== id) return t('pair.wrong_kind', r.body);
        storeToken(scope, r.body.token);
        becomePaired({ key_id: r.body.key_id, role: r.body.role, bindings: [id] });
        return '';
      }
      if (r.status === 429) return t('pair.busy');
      if (r.status === 0) return t('pair.network');
      return t('pair.refused');
    });
  }

  setInterval(async () => {
    if (!paired) return;
    const r = await call('GET', '/v1/session', { timeoutMs: 2000 });
    if (r.status === 401) unpair();  // a network error keeps the pairing
  }, POLL_MS);

  (async () => {
    if (!loadToken(scope)) return ask();
    const r = await call('GET', '/v1/session', { timeoutMs: 5000 });
    if (r.ok) return becomePaired(r.body);
    if (r.status === 0) return becomePaired({});  // server away: keep the key, retry later
    forgetToken(scope);
    return ask();
  })();
  return first;
}
