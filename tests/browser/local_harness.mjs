// What the kiosk and dashboard tests need from a test harness: a real `facepay serve` on port 0
// with a temporary data folder, fake-camera .y4m files and JPEG frames cut from the real videos
// with ffmpeg, and Debian's Chromium driven by playwright-core. (Written while the shared
// tests/browser/harness.mjs was not there yet; fold into it when both exist.)
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '../..');
const dataDir = process.env.FACEPAY_DATA_DIR || path.resolve(repo, '../shared/data');
const videos = path.join(dataDir, 'videos');
const bin = process.env.FACEPAY_BIN || path.join(repo, 'build/release/apps/facepay/facepay');
export const outDir = process.env.FACEPAY_BROWSER_OUT || path.join(repo, 'build/browser-out');
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'facepay-browser-'));
process.on('exit', () => fs.rmSync(cacheDir, { recursive: true, force: true }));

export function haveData() {
  const ok = fs.existsSync(path.join(videos, 'd3.mp4')) && fs.existsSync(path.join(videos, 'apfol_real2.webm'));
  if (!ok && process.env.FACEPAY_REQUIRE_DATA === '1') throw new Error(`FACEPAY_REQUIRE_DATA=1 but no videos in ${videos}`);
  return ok;
}

// A 640x480, 15 fps .y4m of `seconds` of the clip from `start` (Chromium loops it). `fit`:
// 'crop' fills the frame (a square clip loses the top of the head and the chin), 'pad' shows
// the whole clip with bars at the sides. `vf`: an ffmpeg filter applied first (e.g.
// 'scale=90:-2,pad=640:480:(ow-iw)/2:(oh-ih)/2': a face far away).
export async function makeY4m(clip, { start = 0, seconds = 3, vf = '', fit = 'crop' } = {}) {
  const tag = `${fit === 'pad' ? '-pad' : ''}${vf ? `-${crypto.createHash('sha1').update(vf).digest('hex').slice(0, 10)}` : ''}`;
  const out = path.join(cacheDir, `${path.parse(clip).name}-${start}-${seconds}${tag}.y4m`);
  const size = fit === 'pad'
    ? 'scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2'
    : 'scale=640:480:force_original_aspect_ratio=increase,crop=640:480';
  const filter = `${vf ? `${vf},` : ''}${size},fps=15`;
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-ss', String(start), '-t', String(seconds), '-i', path.join(videos, clip),
    '-vf', filter, '-pix_fmt', 'yuv420p', out]);
  return out;
}

// n JPEG frames of the clip from `start`, `fps` a second (a camera burst for the API).
export function frames(clip, { start = 0, n = 8, fps = 10 } = {}) {
  const dir = fs.mkdtempSync(path.join(cacheDir, 'f-'));
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-ss', String(start), '-i', path.join(videos, clip),
    '-vf', `fps=${fps}`, '-frames:v', String(n), '-q:v', '3', path.join(dir, 'f%02d.jpg')]);
  return fs.readdirSync(dir).sort().map((f) => fs.readFileSync(path.join(dir, f)));
}

// Starts `facepay serve` on a fresh data folder (or `data`, an existing one: pass its admin `key`
// then, a second start prints none) and port 0 (or `port`). `args`: more serve options (e.g.
// ['--terminals', file]). The answer's restart() stops and starts the same server again on the
// same folder and port; kill() ends it at once (SIGKILL: a crash) and start() brings it back.
// accessLog: keep the server's access log (one JSON line per request on stderr, srv.stderr()).
export async function startServer({ data: reuse, port: fixedPort = 0, key: knownKey, args = [], accessLog = false } = {}) {
  const data = reuse || fs.mkdtempSync(path.join(cacheDir, 'data-'));
  let child = null;
  let stdout = '';
  let stderr = '';
  const portFile = path.join(data, 'port');
  async function spawnServe(wantPort, key) {
    fs.rmSync(portFile, { force: true });
    stdout = '';
    child = spawn(bin, ['serve', '--data', data, '--port', String(wantPort), '--port-file', portFile,
      '--web-dir', path.join(repo, 'web'), ...(accessLog ? [] : ['--no-access-log']), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const me = child;
    me.stdout.on('data', (d) => { stdout += d; });
    me.stderr.on('data', (d) => { stderr += d; });
    const deadline = Date.now() + 60000;
    let bound = 0;
    while (Date.now() < deadline) {
      const lines = stdout.split('\n');
      if (fs.existsSync(portFile) && (key || lines.length > 2)) {
        bound = Number(fs.readFileSync(portFile, 'utf8').trim());
        if (bound) {
          try { if ((await fetch(`http://127.0.0.1:${bound}/healthz/live`)).ok) break; } catch { /* not yet */ }
        }
      }
      if (me.exitCode !== null) throw new Error(`facepay serve exited: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!bound) throw new Error(`facepay serve did not start: ${stderr}`);
    return { port: bound, key: key || stdout.split('\n')[1].trim() };
  }
  const first = await spawnServe(fixedPort, knownKey);
  const port = first.port;
  const key = first.key;
  const base = `http://127.0.0.1:${port}`;
  const srv = {
    base, key, data,
    port,
    stderr: () => stderr,
    async api(method, p, { json, form, token = key } = {}) {
      const headers = { Authorization: `Bearer ${token}` };
      let body;
      if (json !== undefined) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(json); }
      if (form !== undefined) body = form;
      const r = await fetch(base + p, { method, headers, body });
      const text = await r.text();
      let parsed;
      try { parsed = text ? JSON.parse(text) : null; } catch { parsed = text; }
      return { status: r.status, body: parsed };
    },
    async pairingCode(kind, id) {
      const r = await srv.api('POST', '/v1/pairing-codes', { json: { kind, id } });
      if (r.status !== 201) throw new Error(JSON.stringify(r.body));
      return r.body.code;
    },
    // A multipart body: fields, and image parts (Buffers) under their field name.
    form(fields, images = {}) {
      const f = new FormData();
      for (const [k, v] of Object.entries(fields)) f.append(k, String(v));
      for (const [k, list] of Object.entries(images)) list.forEach((b, i) => f.append(k, new Blob([b], { type: 'image/jpeg' }), `${k}${i}.jpg`));
      return f;
    },
    async stop() {
      const me = child;
      if (!me || me.exitCode !== null || me.signalCode !== null) return;
      const gone = new Promise((r) => { me.once('exit', r); setTimeout(r, 10000); });
      me.kill('SIGTERM');
      await gone;
    },
    // A crash: SIGKILL, no shutdown at all.
    async kill() {
      const me = child;
      if (!me || me.exitCode !== null || me.signalCode !== null) return;
      const gone = new Promise((r) => { me.once('exit', r); setTimeout(r, 10000); });
      me.kill('SIGKILL');
      await gone;
    },
    // Starts it again on the same data folder, port and admin key (after stop() or kill()).
    async start() {
      // The port was just freed: binding it again can take a moment.
      for (let i = 0; ; i++) {
        try {
          await spawnServe(port, key);
          return;
        } catch (e) {
          if (i >= 20 || !/address|bind|in use|listen/i.test(String(e))) throw e;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    },
    async restart() {
      await srv.stop();
      await srv.start();
    },
  };
  return srv;
}

export async function launchBrowser(y4m) {
  const mod = process.env.PLAYWRIGHT_CORE || 'playwright-core';
  const { chromium } = await import(mod);
  const args = ['--no-sandbox', '--disable-gpu', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'];
  if (y4m) args.push(`--use-file-for-fake-video-capture=${y4m}`);
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args });
}

export async function shot(page, name) {
  fs.mkdirSync(outDir, { recursive: true });
  await page.screenshot({ path: path.join(outDir, `${name}.png`), fullPage: true });
}

export async function waitState(page, state, timeout = 20000) {
  await page.waitForFunction((s) => document.body.dataset.state === s, state, { timeout });
}

export async function typeDigits(page, digits) {
  for (const d of digits) await page.click(`#keypad [data-key="${d}"]`);
}

// Opens the terminal page `/kiosk/{kind}/{id}{query}` and pairs it with a fresh one-time code,
// typed as an operator would. Resolves once the page left the pairing screen.
export async function pairPage(page, srv, kind, id, { query = '', after = undefined } = {}) {
  await page.goto(`${srv.base}/kiosk/${kind}/${id}${query}`);
  await waitState(page, 'unpaired');
  const code = await srv.pairingCode(kind, id);
  await page.fill('#pair-code', code);
  await page.click('#pair-submit');
  await page.waitForFunction((s) => !['unpaired', 'pairing', 'loading'].includes(document.body.dataset.state)
    && (!s || document.body.dataset.state === s), after, { timeout: 20000 });
}

// Enrols `id` from n frames of `clip` from `start` with a stored-value account `acct:{id}`,
// topped up with `topupMinor`. Resolves with the account id. `challenge: {start, seconds}`:
// first passes an active challenge with that stretch of the clip (the server must ask for
// what the clip does: serve --fixed-challenge-order blink), as a kiosk would for a burst
// in the uncalibrated unsure band, which enrols only after one.
export async function enrol(srv, id, { clip, start = 0, n = 8, fps = 10, topupMinor = 0, phone = '', pin = '', challenge = null }) {
  const account = `acct:${id}`;
  const a = await srv.api('POST', '/v1/accounts', { json: { id: account, kind: 'stored_value' } });
  if (a.status !== 201) throw new Error(`account: ${JSON.stringify(a.body)}`);
  const fields = { id, text_version: 'test-v1', channel: 'test', account_id: account, frame_interval_ms: Math.round(1000 / fps) };
  if (phone) fields.phone_last4 = phone;
  if (pin) fields.pin = pin;
  if (challenge) {
    const c = await srv.api('POST', '/v1/kiosks/harness/challenges', { json: {} });
    if (c.status !== 201) throw new Error(`challenge: ${JSON.stringify(c.body)}`);
    const rec = frames(clip, { start: challenge.start, n: Math.round(challenge.seconds * 10), fps: 10 });
    const r = await srv.api('POST', `/v1/kiosks/harness/challenges/${c.body.challenge_id}/responses`,
      { form: srv.form({ frame_interval_ms: 100 }, { frames: rec }) });
    if (r.status !== 200 || r.body.result !== 'passed') throw new Error(`challenge ${id}: ${r.status} ${JSON.stringify(r.body)}`);
    fields.challenge_id = c.body.challenge_id;
  }
  const e = await srv.api('POST', '/v1/subjects', { form: srv.form(fields, { frames: frames(clip, { start, n, fps }) }) });
  if (e.status !== 201) throw new Error(`enrol ${id}: ${e.status} ${JSON.stringify(e.body)}`);
  if (topupMinor > 0) {
    const top = await srv.api('POST', `/v1/accounts/${account}/topups`, { json: { idempotency_key: `top-${id}`, amount_minor: topupMinor } });
    if (top.status !== 200) throw new Error(`top-up: ${JSON.stringify(top.body)}`);
  }
  return account;
}

// A copy of config/terminals/demo.json (and its fare table) that `change({terminals, fares})`
// may edit, written to a temporary folder with absolute paths: serve it with
// startServer({args: ['--terminals', file]}).
export function writeTerminals(change = () => {}) {
  const src = path.join(repo, 'config/terminals/demo.json');
  const terminals = JSON.parse(fs.readFileSync(src, 'utf8'));
  const faresPath = path.resolve(path.dirname(src), terminals.fares);
  const fares = JSON.parse(fs.readFileSync(faresPath, 'utf8'));
  for (const g of terminals.gates) {
    if (g.camera_profile) g.camera_profile = path.resolve(path.dirname(src), g.camera_profile);
  }
  change({ terminals, fares });
  const dir = fs.mkdtempSync(path.join(cacheDir, 'terminals-'));
  fs.writeFileSync(path.join(dir, 'fares.json'), JSON.stringify(fares, null, 2));
  terminals.fares = path.join(dir, 'fares.json');
  fs.writeFileSync(path.join(dir, 'terminals.json'), JSON.stringify(terminals, null, 2));
  return path.join(dir, 'terminals.json');
}
