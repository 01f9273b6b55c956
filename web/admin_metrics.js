// The dashboard's reading of the server's /metrics (Prometheus text format): parse it, pick the
// numbers the operator watches, and turn two successive scrapes into rates (counters are
// differenced; a counter that went down means the server restarted and counts from zero).
// No DOM here: tests/browser/admin_metrics.test.mjs runs it under plain node.

export const PASSAGE_ROUTE = '/v1/gates/{gate}/passages';

// One sample per line: {name, labels: {k: v}, value}. Comments, blank and malformed lines are
// skipped; label values are unescaped (\\, \", \n).
export function parsePrometheus(text) {
  const out = [];
  for (const raw of String(text).split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[3]) {
      const re = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/g;
      let l;
      while ((l = re.exec(m[3])) !== null) {
        labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
      }
    }
    const v = m[4];
    const value = v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v);
    if (Number.isNaN(value) && v !== 'NaN') continue;
    out.push({ name: m[1], labels, value });
  }
  return out;
}

// The numbers the dashboard shows, from one scrape.
//   passages: {accept, reject, step_up} (decisions of the passage flow since the server started)
//   spoof: liveness refusals (reason "spoof", every flow)
//   revenueMinor: the fare revenue account's balance
//   latency: {buckets: [[le, cumulative count], ...] sorted by le, count, sum} of the passage route
export function summarize(samples) {
  const s = {
    passages: { accept: 0, reject: 0, step_up: 0 },
    spoof: 0,
    revenueMinor: 0,
    latency: { buckets: [], count: 0, sum: 0 },
  };
  const buckets = new Map();
  for (const x of samples) {
    if (x.name === 'facepay_decisions_total') {
      if (x.labels.flow === 'passage' && x.labels.outcome in s.passages) {
        s.passages[x.labels.outcome] += x.value;
      }
      if (x.labels.reason === 'spoof') s.spoof += x.value;
    } else if (x.name === 'facepay_ledger_fare_revenue_minor') {
      s.revenueMinor += x.value;
    } else if (x.labels.route === PASSAGE_ROUTE && (x.labels.method || 'POST') === 'POST') {
      if (x.name === 'facepay_http_request_duration_seconds_bucket') {
        const le = x.labels.le === '+Inf' ? Infinity : Number(x.labels.le);
        buckets.set(le, (buckets.get(le) || 0) + x.value);
      } else if (x.name === 'facepay_http_request_duration_seconds_count') {
        s.latency.count += x.value;
      } else if (x.name === 'facepay_http_request_duration_seconds_sum') {
        s.latency.sum += x.value;
      }
    }
  }
  s.latency.buckets = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  return s;
}

// A counter's increase between two scrapes; a decrease is a restart (the new value is all new).
export function counterDelta(prev, cur) {
  if (prev === undefined || prev === null) return 0;
  return cur >= prev ? cur - prev : cur;
}

// histogram_quantile as Prometheus computes it: linear interpolation inside the bucket where the
// q-th observation falls; the +Inf bucket answers the highest finite bound. null when empty.
export function histogramQuantile(q, buckets) {
  if (!buckets.length) return null;
  const total = buckets[buckets.length - 1][1];
  if (!(total > 0)) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      if (count === prevCount) return le;
      return prevLe + (le - prevLe) * ((rank - prevCount) / (count - prevCount));
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

// The per-bucket increase between two scrapes (for the latency of the last interval only).
export function bucketsDelta(prev, cur) {
  if (!prev || !prev.length) return cur.map(([le, c]) => [le, c]);
  const before = new Map(prev);
  const restarted = cur.some(([le, c]) => c < (before.get(le) || 0));
  return cur.map(([le, c]) => [le, restarted ? c : c - (before.get(le) || 0)]);
}

// One point of every chart from two successive summaries taken dtSeconds apart:
//   perMinute: {accept, reject, step_up} passages per minute
//   spoofPerMinute
//   stepUpRate: share of the interval's passages that asked for the phone digits (0..1), null
//     when there were none
//   p50Ms, p99Ms: decision latency of the passage route in the interval (null: no passages)
//   revenueMinor: the revenue gauge now
export function ratePoint(prev, cur, dtSeconds) {
  const perMin = (d) => (dtSeconds > 0 ? (d * 60) / dtSeconds : 0);
  const d = {};
  for (const k of ['accept', 'reject', 'step_up']) {
    d[k] = prev ? counterDelta(prev.passages[k], cur.passages[k]) : 0;
  }
  const all = d.accept + d.reject + d.step_up;
  const lat = prev ? bucketsDelta(prev.latency.buckets, cur.latency.buckets) : [];
  const p50 = histogramQuantile(0.5, lat);
  const p99 = histogramQuantile(0.99, lat);
  return {
    perMinute: { accept: perMin(d.accept), reject: perMin(d.reject), step_up: perMin(d.step_up) },
    spoofPerMinute: prev ? perMin(counterDelta(prev.spoof, cur.spoof)) : 0,
    stepUpRate: all > 0 ? d.step_up / all : null,
    p50Ms: p50 === null ? null : p50 * 1000,
    p99Ms: p99 === null ? null : p99 * 1000,
    revenueMinor: cur.revenueMinor,
  };
}

// A rolling window of points for the charts: keeps at most `max` points.
export class Series {
  constructor(max = 120) {
    this.max = max;
    this.t = [];
    this.points = [];
    this.last = null;
    this.lastAt = 0;
  }
  // Feed one scrape (text) taken at tSeconds; returns the new point (or null for the first).
  push(text, tSeconds) {
    const cur = summarize(parsePrometheus(text));
    const prev = this.last;
    const point = prev ? ratePoint(prev, cur, tSeconds - this.lastAt) : null;
    this.last = cur;
    this.lastAt = tSeconds;
    if (point) {
      this.t.push(tSeconds);
      this.points.push(point);
      if (this.t.length > this.max) {
        this.t.shift();
        this.points.shift();
      }
    }
    return point;
  }
  column(fn) {
    return this.points.map(fn);
  }
}
