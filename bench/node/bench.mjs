// wstether (Node) against `ws` alone, and against partysocket and reconnecting-websocket over
// `ws`, all on one wstether-testd server in one run. Prints absolute numbers and ratios to `ws`.
//
//   receive: the server blasts N text messages of 64 bytes (`!blast N 64`); time from the
//            command to `!blast-done`, every message handed to the app as a string.
//   rtt:     M sequential echo round trips of a 64-byte text message; p50 / p99.
//
// Usage: node bench.mjs [--quick]   (WSTETHER_TESTD overrides the daemon path)

import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import WS from 'ws'
import PartySocket from 'partysocket/ws'
import ReconnectingWebSocket from 'reconnecting-websocket'
import { Client } from '../../node/esm/index.mjs'

const quick = process.argv.includes('--quick')
const BLAST = quick ? 20_000 : 200_000
const ROUNDS = quick ? 1_000 : 10_000
const REPEAT = quick ? 1 : 3 // best of, to dampen a noisy shared machine
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

function testdPath () {
  if (process.env.WSTETHER_TESTD) return process.env.WSTETHER_TESTD
  for (const p of ['target/release/wstether-testd', 'target/debug/wstether-testd']) {
    if (existsSync(path.join(repo, p))) return path.join(repo, p)
  }
  throw new Error('wstether-testd not found; build it or set WSTETHER_TESTD')
}

async function startServer () {
  const child = spawn(testdPath(), [], { stdio: ['pipe', 'pipe', 'inherit'] })
  const line = await new Promise((resolve) => createInterface({ input: child.stdout }).once('line', resolve))
  const port = JSON.parse(line).control
  const res = await fetch(`http://127.0.0.1:${port}/server/start`, { method: 'POST' })
  const { url } = await res.json()
  return { url, stop: () => child.stdin.end() }
}

// Each adapter opens a connection and exposes: onText(cb) with cb(string), send(string), close().
const adapters = {
  ws: (url) => new Promise((resolve, reject) => {
    const ws = new WS(url)
    let handler = () => {}
    ws.on('message', (data, isBinary) => handler(isBinary ? data : data.toString()))
    ws.once('error', reject)
    ws.once('open', () => resolve({
      onText: (cb) => { handler = cb },
      send: (s) => ws.send(s),
      close: () => new Promise((resolve) => { ws.once('close', resolve); ws.close() })
    }))
  }),
  wstether: (url) => new Promise((resolve) => {
    const client = new Client(url, { handshakeBudget: false })
    let handler = () => {}
    client.on('message', (data) => handler(data))
    client.once('open', () => resolve({
      onText: (cb) => { handler = cb },
      send: (s) => client.send(s),
      close: () => client.close()
    }))
    client.connect()
  }),
  partysocket: (url) => viaEventTarget(new PartySocket(url, [], { WebSocket: WS, maxRetries: 0 })),
  'reconnecting-websocket': (url) => viaEventTarget(new ReconnectingWebSocket(url, [], { WebSocket: WS, maxRetries: 0 }))
}

function viaEventTarget (rws) {
  return new Promise((resolve, reject) => {
    let handler = () => {}
    rws.addEventListener('message', (ev) => handler(ev.data))
    rws.addEventListener('error', (ev) => reject(ev.error ?? new Error('socket error')))
    rws.addEventListener('open', () => resolve({
      onText: (cb) => { handler = cb },
      send: (s) => rws.send(s),
      close: () => new Promise((resolve) => { rws.addEventListener('close', resolve); rws.close() })
    }), { once: true })
  })
}

async function receive (conn, n) {
  let count = 0
  let bad = 0
  const done = new Promise((resolve) => {
    conn.onText((s) => {
      if (s === '!blast-done') resolve()
      else if (s.length !== 64) bad++
      else count++
    })
  })
  const t0 = performance.now()
  conn.send(`!blast ${n} 64`)
  await done
  const ms = performance.now() - t0
  if (count !== n || bad !== 0) throw new Error(`received ${count}/${n} messages (${bad} malformed)`)
  return { ms, perSec: n / (ms / 1000) }
}

async function roundTrips (conn, n) {
  const payload = 'r'.repeat(64)
  const samples = new Float64Array(n)
  let resolveEcho
  conn.onText(() => resolveEcho())
  for (let i = 0; i < n; i++) {
    const echoed = new Promise((resolve) => { resolveEcho = resolve })
    const t0 = performance.now()
    conn.send(payload)
    await echoed
    samples[i] = performance.now() - t0
  }
  samples.sort()
  const at = (q) => samples[Math.min(n - 1, Math.floor(q * n))] * 1000
  return { p50: at(0.5), p99: at(0.99) }
}

function better (a, b) {
  if (a === null) return b
  return { ms: Math.min(a.ms, b.ms), perSec: Math.max(a.perSec, b.perSec), p50: Math.min(a.p50, b.p50), p99: Math.min(a.p99, b.p99) }
}

const names = ['ws', 'wstether', 'partysocket', 'reconnecting-websocket']
const server = await startServer()
const results = Object.fromEntries(names.map(n => [n, null]))
try {
  const conns = {}
  for (const name of names) {
    conns[name] = await adapters[name](server.url)
    await receive(conns[name], Math.min(BLAST, 20_000)) // warm-up: JIT and socket buffers
    await roundTrips(conns[name], Math.min(ROUNDS, 500))
  }
  // Rounds interleave the clients, so load from elsewhere on the machine hits all of them alike.
  for (let r = 0; r < REPEAT; r++) {
    for (const name of names) {
      const rx = await receive(conns[name], BLAST)
      const rtt = await roundTrips(conns[name], ROUNDS)
      results[name] = better(results[name], { ...rx, ...rtt })
    }
  }
  for (const name of names) await conns[name].close()
} finally {
  server.stop()
}

const base = results.ws
const pad = (s, n) => String(s).padEnd(n)
const num = (x, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
console.log(`\nNode ${process.version}; receive ${num(BLAST)} x 64 B; ${num(ROUNDS)} echo round trips; best of ${REPEAT}\n`)
console.log(`${pad('client', 24)}${pad('receive msg/s', 16)}${pad('vs ws', 9)}${pad('rtt p50 µs', 12)}${pad('vs ws', 9)}${pad('rtt p99 µs', 12)}`)
for (const [name, r] of Object.entries(results)) {
  console.log(`${pad(name, 24)}${pad(num(r.perSec), 16)}${pad(num(r.perSec / base.perSec, 2) + 'x', 9)}${pad(num(r.p50, 1), 12)}${pad(num(r.p50 / base.p50, 2) + 'x', 9)}${pad(num(r.p99, 1), 12)}`)
}
const w = results.wstether
const rxOk = w.perSec / base.perSec >= 1.0
const rttOk = w.p50 / base.p50 <= 1.2
console.log(`\ntargets: receive >= 1.0x ws: ${rxOk ? 'met' : 'MISSED'} (${num(w.perSec / base.perSec, 2)}x); ` +
  `rtt p50 <= 1.2x ws: ${rttOk ? 'met' : 'MISSED'} (${num(w.p50 / base.p50, 2)}x)`)
