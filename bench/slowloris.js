// Slowloris against a running `facepay serve`: requests answered per second by the server
// while N slow connections are held (each trickles one header line every few seconds and is
// reopened at once when the server drops it, as an attacker would), against the same server
// idle, in the same run. Node.js only (installed by scripts/setup), no npm packages.
//
//   node bench/slowloris.js --port 8080 [--slow 100] [--seconds 10] [--clients 4]
//                           [--trickle-ms 5000] [--path /healthz/live]
// Prints one JSON object: idle and under-attack req/s, p50/p99 ms, errors, slow connections
// held and how often the server dropped them.
'use strict';
const http = require('http');
const net = require('net');

const arg = (name, def) => {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? process.argv[i + 1] : def;
};
const port = Number(arg('port', 8080));
const host = arg('host', '127.0.0.1');
const slowCount = Number(arg('slow', 100));
const seconds = Number(arg('seconds', 10));
const clients = Number(arg('clients', 4));
const trickleMs = Number(arg('trickle-ms', 5000));
const path = arg('path', '/healthz/live');

function measure(durationMs) {
  return new Promise((resolve) => {
    const agent = new http.Agent({keepAlive: true, maxSockets: clients});
    const lat = [];
    let errors = 0;
    const end = Date.now() + durationMs;
    let running = clients;
    const loop = () => {
      if (Date.now() >= end) {
        if (--running === 0) {
          agent.destroy();
          lat.sort((a, b) => a - b);
          const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : null);
          resolve({requests: lat.length, req_per_s: lat.length / (durationMs / 1000), errors,
                   p50_ms: q(0.5), p99_ms: q(0.99)});
        }
        return;
      }
      const t0 = process.hrtime.bigint();
      const req = http.get({host, port, path, agent, timeout: 10000}, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
          else errors++;
          loop();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => { errors++; loop(); });
    };
    for (let i = 0; i < clients; i++) loop();
  });
}

// One slow connection: a request line, then one header line per trickle, never the blank line.
let dropped = 0;
let stopping = false;
const held = new Set();
function openSlow() {
  if (stopping) return;
  const s = net.connect(port, host);
  let timer = null;
  s.on('connect', () => {
    held.add(s);
    s.write('GET ' + path + ' HTTP/1.1\r\nHost: x\r\n');
    let n = 0;
    timer = setInterval(() => s.write('X-Slow-' + (n++) + ': 1\r\n'), trickleMs);
  });
  const gone = () => {
    if (timer) clearInterval(timer);
    if (held.delete(s) && !stopping) dropped++;
    setImmediate(openSlow);
  };
  s.on('data', () => {});  // a 408 before the drop
  s.on('error', gone);
  s.on('close', gone);
}

(async () => {
  const idle = await measure(seconds * 1000);
  for (let i = 0; i < slowCount; i++) openSlow();
  await new Promise((r) => setTimeout(r, 1000));  // let them connect
  const heldAtStart = held.size;
  const attacked = await measure(seconds * 1000);
  const heldAtEnd = held.size;
  stopping = true;
  for (const s of held) s.destroy();
  console.log(JSON.stringify({
    path, seconds, clients, slow_connections: slowCount, trickle_ms: trickleMs,
    idle, under_attack: attacked, slow_held_at_start: heldAtStart, slow_held_at_end: heldAtEnd,
    slow_dropped_by_server: dropped,
    ratio_under_attack_to_idle: idle.req_per_s ? attacked.req_per_s / idle.req_per_s : null,
  }, null, 1));
  process.exit(0);
})();
