// The operator dashboard (/admin): sign in with an admin or auditor key, live charts from
// /metrics (uPlot), terminals, subjects, audit log, keys and pairing codes, decision policy.
// Only the public /v1 API, through common/api.js.
import { call, storeToken, loadToken, forgetToken } from './common/api.js';
import { t, reasonText } from './common/strings.js';
import { Series, summarize, parsePrometheus } from './admin_metrics.js';

const SCOPE = 'admin';
const params = new URLSearchParams(location.search);
const POLL_MS = Math.max(500, Number(params.get('poll_ms')) || 3000);
const PAGE = Math.min(1000, Math.max(1, Number(params.get('page')) || 20));
const SEEN_RECENTLY_MS = 60_000;

const $ = (id) => document.getElementById(id);
let token = null;
let role = null;
let keyId = null;
let timers = [];

// ---------------------------------------------------------------- small helpers
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function money(minor) {
  const n = Number(minor) || 0;
  return (n / 100).toLocaleString('en-GB', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

function when(ms) {
  if (!ms) return t('admin.never');
  const d = new Date(Number(ms));
  return d.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' });
}

function ago(ms) {
  if (!ms) return t('admin.never');
  const s = Math.max(0, Math.round((Date.now() - Number(ms)) / 1000));
  if (s < 60) return t('admin.seconds_ago', { n: s });
  if (s < 3600) return t('admin.minutes_ago', { n: Math.round(s / 60) });
  if (s < 86400) return t('admin.hours_ago', { n: Math.round(s / 3600) });
  return when(ms);
}

function errorText(res) {
  const code = res && res.body && res.body.error && res.body.error.code;
  if (!code) return t('admin.failed', { status: res ? res.status : 0 });
  // An operator reads the server's own message too: reasonText has a sentence for the codes
  // a passenger meets, not for every code an operator can cause.
  const text = reasonText(code);
  return text !== reasonText('\u0000') ? text : `${res.body.error.message || code} (${code})`;
}

function api(method, path, opts = {}) {
  return call(method, path, { ...opts, token }).then((res) => {
    if (res.status === 401 && token) signOut(t('admin.key_refused'));
    return res;
  });
}

let noticeTimer = 0;
function notice(text, kind = 'ok') {
  const n = $('notice');
  n.textContent = text;
  n.className = `notice ${kind}`;
  n.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { n.hidden = true; }, 8000);
}

function confirmBox(title, text, yesLabel) {
  const d = $('confirm');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-yes').textContent = yesLabel;
  d.returnValue = '';
  d.showModal();
  document.body.dataset.dialog = 'confirm';
  return new Promise((resolve) => {
    d.addEventListener('close', () => {
      delete document.body.dataset.dialog;
      resolve(d.returnValue === 'ok');
    }, { once: true });
  });
}

function translateStatic() {
  for (const e of document.querySelectorAll('[data-t]')) e.textContent = t(e.dataset.t);
}

// ---------------------------------------------------------------- sign-in
async function whoAmI(tok) {
  const s = await call('GET', '/v1/session', { token: tok });
  if (s.ok) return { ok: true, role: s.body.role, keyId: s.body.key_id };
  if (s.status !== 404) return { ok: false, res: s };
  // An older server without /v1/session: the stats route says whether the key may read, the
  // keys route whether it is an admin's.
  const st = await call('GET', '/v1/stats', { token: tok });
  if (!st.ok) return { ok: false, res: st };
  const k = await call('GET', '/v1/keys', { token: tok });
  return { ok: true, role: k.ok ? 'admin' : 'auditor', keyId: String(tok).split('.')[0] };
}

async function signIn(tok, remember) {
  const who = await whoAmI(tok);
  if (!who.ok) {
    const code = who.res.body && who.res.body.error && who.res.body.error.code;
    return code === 'forbidden_role' ? t('admin.wrong_role') : errorText(who.res);
  }
  if (who.role !== 'admin' && who.role !== 'auditor') return t('admin.wrong_role');
  token = tok;
  role = who.role;
  keyId = who.keyId;
  if (remember) storeToken(SCOPE, tok);
  start();
  return null;
}

function signOut(message) {
  forgetToken(SCOPE);
  token = null;
  role = null;
  for (const x of timers) clearInterval(x);
  timers = [];
  destroyCharts();
  $('app').hidden = true;
  $('who').hidden = true;
  $('signin').hidden = false;
  $('signin-key').value = '';
  $('signin-error').textContent = message || '';
  document.body.dataset.state = 'signin';
}

// ---------------------------------------------------------------- tabs
let current = 'overview';
const loaders = {};

function showTab(name) {
  current = name;
  for (const b of document.querySelectorAll('#tabs button')) {
    b.setAttribute('aria-selected', String(b.dataset.tab === name));
  }
  for (const s of document.querySelectorAll('.tab')) s.hidden = s.id !== `tab-${name}`;
  document.body.dataset.tab = name;
  if (loaders[name]) loaders[name]();
  if (name === 'overview') resizeCharts();
}

function start() {
  $('signin').hidden = true;
  $('app').hidden = false;
  $('who').hidden = false;
  $('who-text').textContent = t('admin.signed_in_as', { role, key: keyId });
  document.body.dataset.role = role;
  for (const e of document.querySelectorAll('[data-admin-only]')) e.hidden = role !== 'admin';
  document.body.dataset.state = 'ready';
  makeCharts();
  showTab('overview');
  pollMetrics();
  timers.push(setInterval(pollMetrics, POLL_MS));
  timers.push(setInterval(() => { if (current === 'terminals') loadTerminals(); }, 5000));
}

// ---------------------------------------------------------------- metrics and charts
let series = new Series(200);
let charts = [];
const COLORS = { ok: '#1a7f37', bad: '#cf222e', warn: '#bf8700', blue: '#0969da', violet: '#8250df', grey: '#57606a' };

function chartDefs() {
  // Points drawn too: an interval with passages between quiet ones is one point, not a line.
  const line = (label, stroke, extra = {}) => ({ label, stroke, width: 2, spanGaps: false, points: { show: true, size: 6, fill: stroke }, ...extra });
  return [
    { id: 'chart-passages', series: [line(t('admin.s_accepted'), COLORS.ok), line(t('admin.s_refused'), COLORS.bad), line(t('admin.s_stepup'), COLORS.warn)],
      cols: (p) => [p.perMinute.accept, p.perMinute.reject, p.perMinute.step_up], unit: '/min' },
    { id: 'chart-latency', series: [line('p50', COLORS.blue), line('p99', COLORS.violet)],
      cols: (p) => [p.p50Ms, p.p99Ms], unit: ' ms' },
    { id: 'chart-spoof', series: [line(t('admin.s_spoof'), COLORS.bad, { fill: 'rgba(207,34,46,0.12)' })],
      cols: (p) => [p.spoofPerMinute], unit: '/min' },
    { id: 'chart-stepup', series: [line(t('admin.s_stepup_rate'), COLORS.warn)],
      cols: (p) => [p.stepUpRate === null ? null : p.stepUpRate * 100], unit: ' %' },
    { id: 'chart-revenue', series: [line(t('admin.s_revenue'), COLORS.ok, { fill: 'rgba(26,127,55,0.10)' })],
      cols: (p) => [p.revenueMinor / 100], unit: '' },
  ];
}

function chartWidth(host) {
  return Math.max(260, Math.floor(host.parentElement.getBoundingClientRect().width) - 32);
}

function makeCharts() {
  destroyCharts();
  if (typeof window.uPlot !== 'function') {
    for (const d of chartDefs()) $(d.id).textContent = t('admin.no_chart_lib');
    return;
  }
  const css = getComputedStyle(document.body);
  const axisInk = css.getPropertyValue('--muted').trim() || '#57606a';
  const gridInk = 'rgba(127, 140, 155, 0.22)';
  for (const d of chartDefs()) {
    const host = $(d.id);
    host.textContent = '';
    const opts = {
      width: chartWidth(host),
      height: 200,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      // At least the last two minutes on the time axis, so a few points do not fill it alone.
      scales: {
        x: { time: true, range: (u, min, max) => [Math.min(min ?? max, (max ?? Date.now() / 1000) - 120), max ?? Date.now() / 1000] },
        y: { range: (u, min, max) => [0, Math.max(1, (max || 0) * 1.15)] },
      },
      axes: [
        { stroke: axisInk, grid: { stroke: gridInk }, ticks: { stroke: gridInk } },
        { stroke: axisInk, grid: { stroke: gridInk }, ticks: { stroke: gridInk }, size: 70, values: (u, vals) => vals.map((v) => `${+v.toFixed(2)}${d.unit}`) },
      ],
      series: [{}, ...d.series],
    };
    const data = [[], ...d.series.map(() => [])];
    charts.push({ def: d, plot: new window.uPlot(opts, data, host) });
  }
}

function destroyCharts() {
  for (const c of charts) c.plot.destroy();
  charts = [];
}

function redrawCharts() {
  for (const c of charts) {
    const cols = c.def.series.map((_, i) => series.column((p) => c.def.cols(p)[i]));
    c.plot.setData([series.t.slice(), ...cols]);
  }
}

function resizeCharts() {
  for (const c of charts) c.plot.setSize({ width: chartWidth($(c.def.id)), height: 200 });
}
window.addEventListener('resize', () => resizeCharts());

function setTile(id, value, text) {
  const e = $(id);
  e.dataset.value = String(value);
  e.textContent = text;
}

async function pollMetrics() {
  const res = await api('GET', '/metrics', { timeoutMs: 5000 });
  if (!res.ok) {
    $('since-note').textContent = t('admin.metrics_failed', { why: errorText(res) });
    return;
  }
  const text = typeof res.body === 'string' ? res.body : (res.body && res.body.text) || '';
  const now = Date.now() / 1000;
  series.push(text, now);
  const s = summarize(parsePrometheus(text));
  setTile('tile-accepted', s.passages.accept, String(s.passages.accept));
  setTile('tile-refused', s.passages.reject, String(s.passages.reject));
  setTile('tile-stepup', s.passages.step_up, String(s.passages.step_up));
  setTile('tile-revenue', s.revenueMinor, money(s.revenueMinor));
  setTile('tile-spoof', s.spoof, String(s.spoof));
  $('since-note').textContent = t('admin.since_start_at', { time: new Date().toLocaleTimeString('en-GB') });
  document.body.dataset.metricsAt = String(Date.now());
  redrawCharts();
}

// ---------------------------------------------------------------- terminals
let terminals = [];
async function loadTerminals() {
  const res = await api('GET', '/v1/terminals');
  const tb = $('terminals-table').tBodies[0];
  if (!res.ok) {
    tb.replaceChildren(el('tr', {}, el('td', { colspan: 5, class: 'error', text: errorText(res) })));
    return;
  }
  terminals = res.body.terminals || [];
  fillPairingIds();
  loadCameras();
  tb.replaceChildren(...terminals.map((x) => {
    const recent = x.last_seen_ms && Date.now() - x.last_seen_ms < SEEN_RECENTLY_MS;
    return el('tr', { dataset: { kind: x.kind, id: x.id } },
      el('td', { text: x.kind }),
      el('td', { class: 'mono', text: x.id }),
      el('td', {}, el('span', { class: `badge ${x.paired ? 'ok' : 'off'}`, text: x.paired ? t('admin.paired') : t('admin.not_paired') })),
      el('td', {}, el('span', { class: `dot ${recent ? 'ok' : 'off'}` }), ' ', x.last_seen_ms ? ago(x.last_seen_ms) : t('admin.never')),
      el('td', {}, role === 'admin'
        ? el('button', { type: 'button', class: 'secondary small', onclick: () => { showTab('keys'); makePairingCode(x.kind, x.id); }, text: t('admin.pairing_make') })
        : null));
  }));
  if (!terminals.length) tb.replaceChildren(el('tr', {}, el('td', { colspan: 5, class: 'muted', text: t('admin.none') })));
}
loaders.terminals = loadTerminals;

// ---------------------------------------------------------------- cameras
function calibrationText(c) {
  if (!c.calibrated) return t('admin.cam_none');
  return t(`admin.cam_source_${c.source}`, { n: c.refinements });
}
function driftCell(c) {
  const d = c.drift;
  if (!c.calibrated) return el('span', { class: 'muted', text: t('admin.cam_drift_uncalibrated') });
  if (d.drift_logits === null) return el('span', { class: 'muted', text: t('admin.cam_drift_wait', { n: d.bursts, min: d.min_bursts }) });
  const text = t('admin.cam_drift_val', { d: (d.drift_logits >= 0 ? '+' : '') + d.drift_logits.toFixed(1), n: d.bursts });
  return el('span', { class: `badge ${d.alert ? 'bad' : 'ok'}`, text: d.alert ? `${t('admin.cam_drift_alert')}: ${text}` : text });
}
async function forgetCalibration(c) {
  const yes = await confirmBox(t('admin.cam_forget_title', { camera: c.camera }), t('admin.cam_forget_text'), t('admin.cam_forget'));
  if (!yes) return;
  const res = await api('DELETE', `/v1/cameras/${encodeURIComponent(c.camera)}/calibration`);
  notice(res.ok ? t('admin.cam_forgotten', { camera: c.camera }) : errorText(res), res.ok ? 'ok' : 'bad');
  loadCameras();
}
async function loadCameras() {
  const res = await api('GET', '/v1/cameras');
  const tb = $('cameras-table').tBodies[0];
  const warn = $('cameras-warning');
  if (!res.ok) {
    tb.replaceChildren(el('tr', {}, el('td', { colspan: 6, class: 'error', text: errorText(res) })));
    return;
  }
  const cams = res.body.items || [];
  const uncalibrated = cams.filter((c) => !c.calibrated).map((c) => c.camera);
  const drifted = cams.filter((c) => c.drift.alert).map((c) => c.camera);
  const lines = [];
  if (uncalibrated.length) lines.push(t('admin.cam_warn_uncalibrated', { n: uncalibrated.length, list: uncalibrated.join(', ') }));
  if (drifted.length) lines.push(t('admin.cam_warn_drift', { list: drifted.join(', ') }));
  warn.textContent = lines.join(' ');
  warn.hidden = !lines.length;
  tb.replaceChildren(...cams.map((c) => {
    const p = c.calibration_in_progress;
    return el('tr', { dataset: { camera: c.camera } },
      el('td', { class: 'mono', text: c.camera }),
      el('td', {}, el('span', { class: `badge ${c.calibrated ? 'ok' : 'bad'}`, text: calibrationText(c) })),
      el('td', { class: 'mono', text: (c.judged_offset >= 0 ? '+' : '') + c.judged_offset.toFixed(2) }),
      el('td', {}, driftCell(c)),
      el('td', { text: p.passages ? t('admin.cam_progress', { p: p.passages, pn: p.passages_needed, f: p.frames, fn: p.frames_needed }) : '–' }),
      el('td', {}, role === 'admin'
        ? el('a', { class: 'small', href: `/kiosk/calibrate/${encodeURIComponent(c.camera)}`, target: '_blank', title: t('admin.cam_calibrate_help'), text: t('admin.cam_calibrate') })
        : null,
      ' ',
      role === 'admin' && c.calibrated && c.source !== 'config'
        ? el('button', { type: 'button', class: 'secondary small', onclick: () => forgetCalibration(c), text: t('admin.cam_forget') })
        : null));
  }));
  if (!cams.length) tb.replaceChildren(el('tr', {}, el('td', { colspan: 6, class: 'muted', text: t('admin.none') })));
}

// ---------------------------------------------------------------- subjects
let subjectPages = [''];   // the `after` of each page seen
let subjectPage = 0;
let subjectNext = null;

async function loadSubjects() {
  const after = subjectPages[subjectPage];
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (after) q.set('after', after);
  const res = await api('GET', `/v1/subjects?${q}`);
  const tb = $('subjects-table').tBodies[0];
  if (!res.ok) {
    tb.replaceChildren(el('tr', {}, el('td', { colspan: 5, class: 'error', text: errorText(res) })));
    return;
  }
  const items = res.body.items || [];
  subjectNext = res.body.next_after || null;
  tb.replaceChildren(...items.map(subjectRow));
  if (!items.length) tb.replaceChildren(el('tr', {}, el('td', { colspan: 5, class: 'muted', text: t('admin.no_subjects') })));
  $('subjects-prev').disabled = subjectPage === 0;
  $('subjects-next').disabled = !subjectNext;
  $('subjects-page').textContent = t('admin.page_n', { n: subjectPage + 1 });
}
loaders.subjects = loadSubjects;

function subjectRow(s) {
  return el('tr', { dataset: { subject: s.id } },
    el('td', {}, el('button', { type: 'button', class: 'link mono', onclick: () => showSubject(s.id), text: s.id })),
    el('td', { text: s.display_name || '' }),
    el('td', { text: when(s.created_at_ms) }),
    el('td', { text: String(s.templates ?? '') }),
    el('td', {}, role === 'admin'
      ? el('button', { type: 'button', class: 'danger small', dataset: { erase: s.id }, onclick: () => eraseSubject(s.id), text: t('admin.erase') })
      : null));
}

async function showSubject(id) {
  const box = $('subject-detail');
  const res = await api('GET', `/v1/subjects/${encodeURIComponent(id)}`);
  box.hidden = false;
  if (!res.ok) {
    box.replaceChildren(el('p', { class: 'error', text: res.status === 404 ? t('admin.subject_missing', { id }) : errorText(res) }));
    return;
  }
  const s = res.body;
  const facts = [
    [t('admin.col_subject'), s.id],
    [t('admin.col_name'), s.display_name || '–'],
    [t('admin.col_enrolled'), when(s.created_at_ms)],
    [t('admin.consent'), `${s.consent?.text_version || '–'} (${s.consent?.channel || ''}, ${when(s.consent?.at_ms)})`],
    [t('admin.col_templates'), String(s.templates)],
    [t('admin.account'), s.account_id || t('admin.no_account')],
    [t('admin.factors'), [s.has_phone_last4 ? t('admin.factor_phone') : null, s.has_pin ? t('admin.factor_pin') : null].filter(Boolean).join(', ') || t('admin.none')],
  ];
  box.replaceChildren(
    el('dl', { class: 'facts' }, facts.map(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })])),
    el('div', { class: 'row' },
      role === 'admin' ? el('button', { type: 'button', class: 'danger', dataset: { erase: s.id }, onclick: () => eraseSubject(s.id), text: t('admin.erase_face', { id: s.id }) }) : null,
      el('button', { type: 'button', class: 'secondary', onclick: () => { box.hidden = true; }, text: t('admin.close') })));
}

async function eraseSubject(id) {
  const yes = await confirmBox(t('admin.erase_title', { id }), t('admin.erase_text', { id }), t('admin.erase_yes'));
  if (!yes) return;
  const res = await api('DELETE', `/v1/subjects/${encodeURIComponent(id)}`);
  if (res.ok) {
    notice(t('admin.erased', { id }), 'ok');
    $('subject-detail').hidden = true;
    loadSubjects();
  } else {
    notice(errorText(res), 'bad');
  }
}

$('subjects-next').addEventListener('click', () => {
  if (!subjectNext) return;
  subjectPages[subjectPage + 1] = subjectNext;
  subjectPage += 1;
  loadSubjects();
});
$('subjects-prev').addEventListener('click', () => {
  if (subjectPage === 0) return;
  subjectPage -= 1;
  loadSubjects();
});
$('subject-search').addEventListener('submit', (e) => {
  e.preventDefault();
  const q = $('subject-q').value.trim();
  if (q) showSubject(q);
});
$('subject-all').addEventListener('click', () => {
  $('subject-q').value = '';
  $('subject-detail').hidden = true;
  subjectPages = [''];
  subjectPage = 0;
  loadSubjects();
});

// ---------------------------------------------------------------- audit
let auditPages = [0];
let auditPage = 0;
let auditNext = null;
const KNOWN_ACTIONS = ['passage', 'payment', 'enroll', 'erase', 'erase_by_face', 'topup', 'refund', 'border',
  'key_create', 'key_revoke', 'pairing_code_create', 'terminal_pair', 'second_factor_lockout'];

function summarizeDetail(d) {
  if (d === null || d === undefined) return '';
  if (typeof d !== 'object') return String(d);
  const bits = [];
  const dec = d.decision || {};
  if (dec.reason) bits.push(`reason ${dec.reason}`);
  if (typeof dec.score === 'number') bits.push(`score ${dec.score.toFixed(3)}`);
  if (d.settlement && d.settlement.fare_minor !== undefined) bits.push(`fare ${money(d.settlement.fare_minor)}`);
  if (d.role) bits.push(`role ${d.role}`);
  if (d.kind) bits.push(`kind ${d.kind}`);
  return bits.join(' · ');
}

async function loadAudit() {
  const q = new URLSearchParams({ limit: String(PAGE) });
  const after = auditPages[auditPage];
  if (after) q.set('after', String(after));
  const action = $('audit-action').value.trim();
  const target = $('audit-target').value.trim();
  if (action) q.set('action', action);
  if (target) q.set('target', target);
  const res = await api('GET', `/v1/audit?${q}`);
  const tb = $('audit-table').tBodies[0];
  if (!res.ok) {
    tb.replaceChildren(el('tr', {}, el('td', { colspan: 7, class: 'error', text: errorText(res) })));
    return;
  }
  const items = res.body.items || [];
  auditNext = items.length === PAGE && res.body.next_after ? res.body.next_after : null;
  tb.replaceChildren(...items.map((a) => el('tr', { dataset: { seq: a.seq, action: a.action } },
    el('td', { class: 'mono', text: String(a.seq) }),
    el('td', { class: 'nowrap', text: when(a.at_ms) }),
    el('td', { text: a.action }),
    el('td', { class: 'mono', text: a.target || '' }),
    el('td', {}, el('span', { class: `badge ${/^(ok|accept|enrolled|erased|admitted|approved|settled)$/.test(a.outcome) ? 'ok' : /reject|refused|error|invalid|duplicate/.test(a.outcome) ? 'bad' : 'off'}`, text: a.outcome || '' })),
    el('td', { class: 'mono small', text: a.actor || '' }),
    el('td', {}, el('details', {}, el('summary', { text: summarizeDetail(a.detail) || t('admin.details') }),
      el('pre', { text: JSON.stringify(a.detail, null, 2) }))))));
  if (!items.length) tb.replaceChildren(el('tr', {}, el('td', { colspan: 7, class: 'muted', text: t('admin.no_audit') })));
  $('audit-prev').disabled = auditPage === 0;
  $('audit-first').disabled = auditPage === 0;
  $('audit-next').disabled = !auditNext;
  $('audit-page').textContent = t('admin.page_n', { n: auditPage + 1 });
}
loaders.audit = loadAudit;

$('audit-actions').replaceChildren(...KNOWN_ACTIONS.map((a) => el('option', { value: a })));
$('audit-filter').addEventListener('submit', (e) => {
  e.preventDefault();
  auditPages = [0];
  auditPage = 0;
  loadAudit();
});
$('audit-clear').addEventListener('click', () => {
  $('audit-action').value = '';
  $('audit-target').value = '';
  auditPages = [0];
  auditPage = 0;
  loadAudit();
});
$('audit-next').addEventListener('click', () => {
  if (!auditNext) return;
  auditPages[auditPage + 1] = auditNext;
  auditPage += 1;
  loadAudit();
});
$('audit-prev').addEventListener('click', () => { if (auditPage > 0) { auditPage -= 1; loadAudit(); } });
$('audit-first').addEventListener('click', () => { auditPage = 0; loadAudit(); });

// ---------------------------------------------------------------- keys and pairing
async function loadKeys() {
  if (!terminals.length) loadTerminals();
  const res = await api('GET', '/v1/keys');
  const tb = $('keys-table').tBodies[0];
  if (!res.ok) {
    tb.replaceChildren(el('tr', {}, el('td', { colspan: 7, class: 'error', text: errorText(res) })));
    return;
  }
  const items = res.body.items || [];
  tb.replaceChildren(...items.map((k) => el('tr', { dataset: { key: k.key_id, revoked: String(!!k.revoked) }, class: k.revoked ? 'revoked' : '' },
    el('td', { class: 'mono', text: k.key_id }),
    el('td', { text: k.role }),
    el('td', { class: 'mono', text: (k.bindings || []).join(', ') || '–' }),
    el('td', { text: k.label || '' }),
    el('td', { class: 'nowrap', text: when(k.created_at_ms) }),
    el('td', {}, el('span', { class: `badge ${k.revoked ? 'bad' : 'ok'}`, text: k.revoked ? t('admin.revoked') : t('admin.active') })),
    el('td', {}, !k.revoked && k.key_id !== keyId
      ? el('button', { type: 'button', class: 'danger small', dataset: { revoke: k.key_id }, onclick: () => revokeKey(k), text: t('admin.revoke') })
      : k.key_id === keyId ? el('span', { class: 'muted small', text: t('admin.this_key') }) : null))));
}
loaders.keys = loadKeys;

async function revokeKey(k) {
  const yes = await confirmBox(t('admin.revoke_title', { key: k.key_id }), t('admin.revoke_text', { role: k.role, label: k.label || k.key_id }), t('admin.revoke'));
  if (!yes) return;
  const res = await api('DELETE', `/v1/keys/${encodeURIComponent(k.key_id)}`);
  if (res.ok) notice(t('admin.revoked_note', { key: k.key_id }), 'ok');
  else notice(errorText(res), 'bad');
  loadKeys();
}

function fillPairingIds() {
  const kind = $('pairing-kind').value;
  $('pairing-ids').replaceChildren(...terminals.filter((x) => x.kind === kind).map((x) => el('option', { value: x.id })));
}
$('pairing-kind').addEventListener('change', fillPairingIds);

let expiryTimer = 0;
async function makePairingCode(kind, id) {
  $('pairing-kind').value = kind;
  $('pairing-id').value = id;
  $('pairing-error').textContent = '';
  const res = await api('POST', '/v1/pairing-codes', { json: { kind, id } });
  if (!res.ok) {
    $('pairing-result').hidden = true;
    $('pairing-error').textContent = res.body?.error?.code === 'unknown_terminal' ? t('admin.unknown_terminal', { kind, id }) : errorText(res);
    return;
  }
  const { code, expires_at_ms: exp } = res.body;
  $('pairing-code').textContent = code;
  $('pairing-code').dataset.code = code;
  $('pairing-for').textContent = t('admin.pairing_for', { kind, id });
  $('pairing-result').hidden = false;
  clearInterval(expiryTimer);
  const tick = () => {
    const left = Math.max(0, Math.round((exp - Date.now()) / 1000));
    $('pairing-expiry').textContent = left > 0
      ? t('admin.pairing_expires', { time: new Date(exp).toLocaleTimeString('en-GB'), m: Math.floor(left / 60), s: String(left % 60).padStart(2, '0') })
      : t('admin.pairing_expired');
    if (left <= 0) clearInterval(expiryTimer);
  };
  tick();
  expiryTimer = setInterval(tick, 1000);
}
$('pairing-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const id = $('pairing-id').value.trim();
  if (!id) { $('pairing-error').textContent = t('admin.pairing_need_id'); return; }
  makePairingCode($('pairing-kind').value, id);
});

$('key-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('key-error').textContent = '';
  const bindings = $('key-bindings').value.split(/[\s,]+/).filter(Boolean);
  const body = { role: $('key-role').value, bindings };
  const label = $('key-label').value.trim();
  if (label) body.label = label;
  const res = await api('POST', '/v1/keys', { json: body });
  if (!res.ok) {
    $('key-result').hidden = true;
    $('key-error').textContent = errorText(res);
    return;
  }
  $('key-token').textContent = res.body.token;
  $('key-result').hidden = false;
  loadKeys();
});

// ---------------------------------------------------------------- policy
async function loadPolicy() {
  const res = await api('GET', '/v1/stats');
  if (!res.ok) {
    $('policy-facts').replaceChildren(el('dd', { class: 'error', text: errorText(res) }));
    return;
  }
  const s = res.body;
  const p = s.policy || {};
  const num = (v, d = 3) => (typeof v === 'number' ? v.toFixed(d) : '–');
  const rows = [
    [t('admin.p_accept'), num(p.accept), t('admin.p_accept_help')],
    [t('admin.p_stepup'), num(p.step_up), t('admin.p_stepup_help')],
    [t('admin.p_margin'), num(p.margin), t('admin.p_margin_help')],
    [t('admin.p_second'), num(p.second_factor), t('admin.p_second_help')],
    [t('admin.p_candidates'), String(p.max_candidates ?? '–'), t('admin.p_candidates_help')],
    [t('admin.p_calibrated'), p.calibrated ? t('admin.p_calibrated_yes', { when: when(p.calibrated_at_ms), n: p.gallery_size }) : t('admin.p_calibrated_no'), ''],
    [t('admin.p_fpir'), p.calibrated ? t('admin.p_fpir_val', { target: num(p.target_fpir, 5), measured: num(p.measured_fpir, 5), probes: p.impostor_probes }) : '–', t('admin.p_fpir_help')],
    [t('admin.p_model'), p.model_id || '–', ''],
  ];
  $('policy-facts').replaceChildren(...rows.map(([k, v, h]) => [el('dt', { text: k }), el('dd', {}, el('strong', { text: v }), h ? el('span', { class: 'muted', text: ` — ${h}` }) : null)]).flat());
  const g = [
    [t('admin.g_subjects'), String(s.subjects ?? '–')],
    [t('admin.g_templates'), String(s.gallery_templates ?? '–')],
    [t('admin.g_sequence'), String(s.change_log_sequence ?? '–')],
    [t('admin.g_terminals'), t('admin.g_terminals_val', { gates: s.gates ?? 0, tills: s.tills ?? 0 })],
    [t('admin.g_backend'), s.ledger_backend || '–'],
  ];
  $('gallery-facts').replaceChildren(...g.map(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]).flat());
}
loaders.policy = loadPolicy;

// ---------------------------------------------------------------- start
translateStatic();
for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab));
$('signout').addEventListener('click', () => signOut(''));
$('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const tok = $('signin-key').value.trim();
  if (!tok) return;
  $('signin-go').disabled = true;
  const err = await signIn(tok, true);
  $('signin-go').disabled = false;
  if (err) {
    $('signin-error').textContent = err;
    document.body.dataset.state = 'signin';
  }
});

(async () => {
  const saved = loadToken(SCOPE);
  if (saved) {
    const err = await signIn(saved, false);
    if (!err) return;
    forgetToken(SCOPE);
    signOut(err);
    return;
  }
  signOut('');
})();
