// The compression bench's Node clients: wstether's `Client` and `ws`, compression at their
// defaults (both on: wstether offers 12-bit windows both ways and compresses messages of 128 B
// or more; ws offers `client_max_window_bits` and, with context takeover, compresses every
// message).
//
// One process per client (`--client wstether|ws`), started pinned by bench.py and kept for the
// whole run. It reads one JSON command per line on stdin and answers one JSON line on stdout
// (the protocol is in bench/compression/README.md):
//
//   {"op": "receive", "url": U, "n": N, "size": S}                  !blast, timed to !blast-done
//   {"op": "send", "url": U, "n": N, "size": S, "window": W, "every": K}
//                                                                   !sink, at most W unacknowledged
//   -> {"ok": true, "secs": wall, "cpu_s": process CPU, "compression": negotiated or null}
//
//   node worker.mjs --client NAME PAYLOADS.json

import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { createRequire } from 'node:module'
import WS from 'ws'

const require = createRequire(import.meta.url)
const argv = process.argv.slice(2)
const kind = argv[argv.indexOf('--client') + 1]
const pools = JSON.parse(readFileSync(argv[argv.length - 1], 'utf8'))
const DEADLINE_MS = 120_000

// Each opener resolves to { compression, send(string), onText(cb), close() }.
const openers = {
  ws: (url) => new Promise((resolve, reject) => {
    const ws = new WS(url) // perMessageDeflate: true is ws's client default
    let handler = () => {}
    let negotiated = null // `ws.extensions` names the extension only: take the server's answer
    ws.once('upgrade', (res) => { negotiated = res.headers['sec-websocket-extensions'] ?? null })
    ws.on('message', (data, isBinary) => handler(isBinary ? data : data.toString()))
    ws.once('error', reject)
    ws.once('open', () => resolve({
      compression: negotiated,
      send: (s) => ws.send(s),
      onText: (cb) => { handler = cb },
      close: () => new Promise((resolve) => { ws.once('close', resolve); ws.close() })
    }))
  }),
  wstether: (url) => new Promise((resolve) => {
    const client = new Tether(url, { handshakeBudget: false, heartbeat: false })
    let handler = () => {}
    client.on('message', (data) => handler(data))
    client.once('open', (ev) => resolve({
      compression: ev.compression,
      send: (s) => client.send(s),
      onText: (cb) => { handler = cb },
      close: () => client.close()
    }))
    client.connect()
  })
}

// wstether's package is loaded only by its own worker, so the ws worker runs without the addon.
const Tether = kind === 'wstether' ? (await import('../../node/esm/index.mjs')).Client : null

const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 } // every thread

function deadline (promise, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer in ${DEADLINE_MS / 1000} s`)), DEADLINE_MS) })
  ]).finally(() => clearTimeout(timer))
}

/** Opens a link and checks one echo: the server inflated what we compressed, and back. */
async function opened (url, pool) {
  const link = await deadline(openers[kind](url), 'open')
  const echo = new Promise((resolve) => link.onText(resolve))
  link.send(pool[0])
  if (await deadline(echo, 'echo') !== pool[0]) throw new Error(`${kind}: the echo differs from what was sent`)
  return link
}

async function receive ({ url, n, size }) {
  const pool = pools[size]
  const link = await opened(url, pool)
  let count = 0
  let bad = 0
  let first = null
  const done = new Promise((resolve) => link.onText((s) => {
    if (s === '!blast-done') return resolve()
    if (count === 0) first = s
    if (s.length !== size) bad++
    count++
  }))
  const c0 = cpu()
  const t0 = performance.now()
  link.send(`!blast ${n} ${size}`)
  await deadline(done, 'blast')
  const secs = (performance.now() - t0) / 1000
  const cpuS = cpu() - c0
  await link.close()
  if (count !== n || bad || (n && first !== pool[0])) throw new Error(`${kind}: expected ${n} messages of ${size} B, got ${count} (${bad} of another size)`)
  return { secs, cpu_s: cpuS, compression: link.compression }
}

async function send ({ url, n, size, window, every }) {
  const pool = pools[size]
  const link = await opened(url, pool)
  let sent = 0
  let acked = 0
  const pump = () => { while (sent < n && sent - acked < window) link.send(pool[sent++ % pool.length]) }
  const done = new Promise((resolve, reject) => link.onText((s) => {
    if (s.startsWith('!ack ')) {
      acked = Number(s.slice(5))
      pump()
    } else if (s.startsWith('!sink-done')) {
      resolve(s)
    } else {
      reject(new Error(`${kind}: the server said ${s.slice(0, 80)}`))
    }
  }))
  const c0 = cpu()
  const t0 = performance.now()
  link.send(`!sink ${n} ${size} ${every}`)
  pump()
  const answer = await deadline(done, 'sink')
  const secs = (performance.now() - t0) / 1000
  const cpuS = cpu() - c0
  await link.close()
  if (answer !== `!sink-done ${n} ${n * size}`) throw new Error(`${kind}: the server counted '${answer}', expected ${n} messages of ${size} B`)
  return { secs, cpu_s: cpuS, compression: link.compression }
}

const library = kind === 'ws'
  ? { library: 'ws', version: require('ws/package.json').version }
  : { library: 'wstether (Node)', version: require('../../node/package.json').version }
console.log(JSON.stringify({ ok: true, ...library }))
const lines = createInterface({ input: process.stdin })
for await (const line of lines) {
  const cmd = JSON.parse(line)
  let out
  try {
    out = { ok: true, ...(cmd.op === 'receive' ? await receive(cmd) : await send(cmd)) }
  } catch (e) {
    out = { ok: false, error: String(e && e.stack ? e.message : e) }
  }
  console.log(JSON.stringify(out))
}
process.exit(0)
