// Pieces the till and the border desk share: the customer/traveller camera with a live hint
// (POST /v1/frames/check about every 400 ms; the burst starts by itself once the face is
// right), and the facts list of a result screen.
import { call } from './common/api.js';
import { t } from './common/strings.js';
import { grabJpeg, captureBurst } from './common/camera.js';
import { $, show } from './kiosk_ui.js';

export function setHint(hint) {
  const h = $('hint');
  h.dataset.hint = hint;
  h.textContent = t(`enroll.hint_${hint}`);
  h.className = `k-hint ${hint === 'ok' ? 'ok' : hint === 'starting' ? '' : 'warn'}`;
  $('guide').className = `k-guide ${hint === 'ok' ? 'ok' : ''}`;
}

// Checks one frame every `everyMs` while running; calls onOk() (once) at the first "ok".
export class LiveCheck {
  constructor(video, { everyMs = 400, onOk }) {
    this.video = video;
    this.everyMs = everyMs;
    this.onOk = onOk;
    this.run = 0;
    this.timer = 0;
  }
  start() {
    this.stop();
    const run = ++this.run;
    setHint('starting');
    const tick = async () => {
      if (run !== this.run) return;
      const started = performance.now();
      try {
        const frame = await grabJpeg(this.video, 0.8);
        const form = new FormData();
        form.append('frame', frame, 'frame.jpg');
        const r = await call('POST', '/v1/frames/check', { form, timeoutMs: 4000 });
        if (run !== this.run) return;
        if (r.status === 0 || r.status >= 500) setHint('offline');
        else if (r.status === 404) setHint('unavailable');  // an older server: the button only
        else if (r.ok) {
          const hint = (r.body && r.body.hint) || 'no_face';
          setHint(hint);
          if (hint === 'ok') {
            this.stop();
            this.onOk();
            return;
          }
        }
      } catch {
        // the camera has no frame yet
      }
      if (run === this.run) this.timer = setTimeout(tick, Math.max(0, this.everyMs - (performance.now() - started)));
    };
    this.timer = setTimeout(tick, 0);
  }
  stop() {
    this.run += 1;
    clearTimeout(this.timer);
  }
}

// Fills a <dl> with [label, value, id, data] rows.
export function facts(dl, rows) {
  dl.replaceChildren(...rows.flatMap(([k, v, id, data]) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    if (id) dd.id = id;
    for (const [dk, dv] of Object.entries(data || {})) dd.dataset[dk] = String(dv);
    return [dt, dd];
  }));
}

// The customer's or traveller's burst: the "capturing" screen and the flash while it is taken,
// then send(frames). A camera (or send) failure calls fail('camera_failed'); when isCurrent()
// is false by then (the screen moved on), the burst is dropped.
export async function takeBurst(n, intervalMs, { isCurrent, send, fail }) {
  try {
    show('capturing', 'camera');
    $('capture-now').disabled = true;
    setHint('hold_still_now');
    $('flash').hidden = false;
    const frames = await captureBurst($('video'), n, intervalMs);
    $('flash').hidden = true;
    if (!isCurrent()) return;
    await send(frames);
  } catch {
    if (isCurrent()) fail('camera_failed');
  } finally {
    $('flash').hidden = true;
  }
}
