// wstether (Node) against `ws` alone, and against partysocket and reconnecting-websocket over
// `ws`, on the same wstether-testd servers in one run, pinned (see bench/README.md).
//
// Node cannot pin its own threads, so this process must be started on the client CPU
// (`taskset -c 1 node bench.mjs`, as run.sh does): every thread it ever starts (V8, libuv, the
// addon's runtime) then stays there. The servers are started under `taskset` on their CPUs, and
// every thread's affinity is read back from /proc and checked.
//
//   receive: `!blast N SIZE` at 64 B and 64 KiB, timed from the command to `!blast-done`, each
//            message handed to the app as a string; interleaved rounds, N calibrated per client
//            so a round takes at least --round-secs.
//   rtt:     64-byte echo round trips against a second server on the client's own CPU.
//   idle:    N idle open clients in a fresh process per library: RSS and JS heap growth.
//
// Usage: node bench.mjs [--quick] [--unpinned] [--server-cpu 0] [--client-cpu 1] [--rounds 7]
//                       [--round-secs 0.6] [--idle 1000] [--json PATH]
// (WSTETHER_TESTD overrides the daemon path)

import { spawn, execFileSync } from 'node:child_process'
import { createInterface } from 'node:readline'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import WS from 'ws'
import PartySocket from 'partysocket/ws'
import ReconnectingWebSocket from 'reconnecting-websocket'
import { Client } from '../../node/esm/index.mjs'

const argv = process.argv.slice(2)
const flag = (name) => argv.includes(name)
const option = (name, fallback) => {
  const i = argv.indexOf(name)
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback
}
const quick = flag('--quick')
const pinned = !flag('--unpinned')
const SERVER_CPU = pinned ? Number(option('--server-cpu', '0')) : null
const CLIENT_CPU = pinned ? Number(option('--client-cpu', '1')) : null
const ROUNDS = Number(option('--rounds', quick ? 3 : 7))
const ROUND_SECS = Number(option('--round-secs', quick ? 0.1 : 0.6))
const IDLE = Number(option('--idle', quick ? 200 : 1000))
const SIZES = [64, 64 * 1024]
const PEER = 'ws'
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const self = fileURLToPath(import.meta.url)

// ------------------------------------------------------------------ CPUs and servers

function threadAffinity (pid) {
  const cpus = new Set()
  let threads = 0
  let tasks = []
  try { tasks = readdirSync(`/proc/${pid}/task`) } catch { return { threads, cpus: [] } }
  for (const t of tasks) {
    try {
      const m = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8').match(/^Cpus_allowed_list:\s*(\S+)/m)
      if (m) { cpus.add(m[1]); threads++ }
    } catch { /* the thread ended meanwhile */ }
  }
  return { threads, cpus: [...cpus].sort() }
}

function affinityRecord (processName, pid, expected) {
  const { threads, cpus } = threadAffinity(pid)
  const rec = { process: processName, pid, threads, cpus }
  if (expected !== null) {
    rec.expected = String(expected)
    rec.ok = threads > 0 && cpus.length === 1 && cpus[0] === String(expected)
  }
  return rec
}

// The most threads this process had, sampled while clients were open.
const sampled = { threads: 0, cpus: new Set() }
function sample () {
  const { threads, cpus } = threadAffinity(process.pid)
  sampled.threads = Math.max(sampled.threads, threads)
  for (const c of cpus) sampled.cpus.add(c)
}

/** User + system CPU seconds of a process (all threads), from /proc (USER_HZ = 100). */
function cpuSecs (pid) {
  const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop().trim().split(/\s+/)
  return (Number(rest[11]) + Number(rest[12])) / 100
}

function testdPath () {
  if (process.env.WSTETHER_TESTD) return process.env.WSTETHER_TESTD
  const p = path.join(repo, 'target/release/wstether-testd')
  if (existsSync(p)) return p
  throw new Error('wstether-testd not found; build it (release) or set WSTETHER_TESTD')
}

async function startServer (cpu) {
  const [cmd, args] = cpu === null ? [testdPath(), []] : ['taskset', ['-c', String(cpu), testdPath()]]
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] })
  const line = await new Promise((resolve) => createInterface({ input: child.stdout }).once('line', resolve))
  const port = JSON.parse(line).control
  const res = await fetch(`http://127.0.0.1:${port}/server/start`, { method: 'POST' })
  const { url } = await res.json()
  return { url, pid: child.pid, stop: () => child.stdin.end() }
}

// ------------------------------------------------------------------ clients

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
  wstether: (url, options = { handshakeBudget: false, heartbeat: false }) => new Promise((resolve) => {
    const client = new Client(url, options)
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

/** One receive round on a fresh connection: messages per second. */
async function receive (name, url, n, size) {
  const conn = await adapters[name](url)
  let count = 0
  let bad = 0
  const done = new Promise((resolve) => {
    conn.onText((s) => {
      if (s === '!blast-done') resolve()
      else if (s.length !== size) bad++
      else count++
    })
  })
  const t0 = performance.now()
  conn.send(`!blast ${n} ${size}`)
  await done
  const ms = performance.now() - t0
  sample()
  await conn.close()
  if (count !== n || bad !== 0) throw new Error(`${name}: received ${count}/${n} messages of ${size} B (${bad} malformed)`)
  return n / (ms / 1000)
}

/** n sequential 64-byte echoes on a fresh connection: p50 and p99 in µs. */
async function roundTrips (name, url, n) {
  const conn = await adapters[name](url)
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
  sample()
  await conn.close()
  samples.sort()
  const at = (q) => samples[Math.floor(q * (n - 1))] * 1000
  return { p50: at(0.5), p99: at(0.99) }
}

/** Warms a client up and returns a count whose blast takes about `secs`. */
async function calibrate (name, url, size, secs) {
  let n = 1000
  for (;;) {
    const rate = await receive(name, url, n, size)
    if (n / rate >= secs / 10 || n >= 50_000_000) return Math.max(1000, Math.floor(rate * secs * 1.1))
    n *= 2
  }
}

// ------------------------------------------------------------------ idle clients

/** Fresh process: one client opened and closed first, then IDLE idle clients; prints KiB per client. */
async function idleChild (kind, url) {
  // Idle clients keep their defaults (heartbeat on), except the handshake budget, which would
  // pace 1,000 opens to 50 per second.
  const open = (u) => kind === 'wstether' ? adapters.wstether(u, { handshakeBudget: false }) : adapters.ws(u)
  await (await open(url)).close()
  global.gc()
  await new Promise((resolve) => setTimeout(resolve, 100))
  const before = process.memoryUsage()
  const keep = []
  for (let i = 0; i < IDLE; i++) keep.push(await open(url))
  await new Promise((resolve) => setTimeout(resolve, 200))
  global.gc()
  const after = process.memoryUsage()
  const heap = (after.heapUsed + after.external) - (before.heapUsed + before.external)
  console.log(JSON.stringify({
    clients: IDLE,
    rss_kib: (after.rss - before.rss) / 1024 / IDLE,
    heap_kib: heap / 1024 / IDLE,
    affinity: affinityRecord(`idle child (${kind})`, process.pid, null)
  }))
  process.exit(0) // the server sees the connections drop
}

function idleInChild (kind, url) {
  const out = execFileSync(process.execPath, ['--expose-gc', self, '--idle-child', kind, '--idle', String(IDLE), '--url', url],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 })
  const figures = JSON.parse(out.trim().split('\n').pop())
  const rec = figures.affinity
  delete figures.affinity
  if (CLIENT_CPU !== null) {
    rec.expected = String(CLIENT_CPU)
    rec.ok = rec.threads > 0 && rec.cpus.length === 1 && rec.cpus[0] === String(CLIENT_CPU)
  }
  return { figures, rec }
}

// ------------------------------------------------------------------ driver

async function main () {
  if (flag('--idle-child')) return idleChild(option('--idle-child'), option('--url'))
  if (CLIENT_CPU !== null) {
    if (SERVER_CPU === CLIENT_CPU) throw new Error('--server-cpu and --client-cpu must differ')
    const mine = threadAffinity(process.pid)
    if (mine.cpus.length !== 1 || mine.cpus[0] !== String(CLIENT_CPU)) {
      console.error(`bench.mjs: this process may run on CPUs ${mine.cpus.join(' ')}, not only on ${CLIENT_CPU}: ` +
        `start it with \`taskset -c ${CLIENT_CPU} node bench.mjs\` (bench/node/run.sh does), or pass --unpinned`)
      process.exit(2)
    }
  }
  const names = ['wstether', PEER, 'partysocket', 'reconnecting-websocket']
  const far = await startServer(SERVER_CPU)
  const near = await startServer(CLIENT_CPU)
  console.log(CLIENT_CPU !== null
    ? `node bench, pinned: server on CPU ${SERVER_CPU}, client on CPU ${CLIENT_CPU}; same-core server on CPU ${CLIENT_CPU}`
    : 'node bench, UNPINNED (not comparable with pinned figures)')
  console.log(`Node ${process.version}; ${ROUNDS} rounds of >= ${ROUND_SECS} s per client and size; ${IDLE} idle clients\n`)
  const throughput = {}
  const rtt = {}
  const idle = {}
  const affinity = []
  try {
    for (const size of SIZES) {
      const per = {}
      const counts = {}
      for (const name of names) counts[name] = await calibrate(name, far.url, size, ROUND_SECS)
      for (let r = 0; r < ROUNDS; r++) {
        const order = r % 2 === 0 ? names : [...names].reverse()
        for (const name of order) {
          const s0 = cpuSecs(far.pid); const c0 = cpuSecs(process.pid); const t0 = performance.now()
          const rate = await receive(name, far.url, counts[name], size)
          const wall = (performance.now() - t0) / 1000
          const sb = (cpuSecs(far.pid) - s0) / wall; const cb = (cpuSecs(process.pid) - c0) / wall
          per[name] ??= { count: counts[name], msgs_per_s: [], server_busy: [], client_busy: [] }
          per[name].msgs_per_s.push(rate)
          per[name].server_busy.push(sb)
          per[name].client_busy.push(cb)
          console.log(`  ${String(size).padStart(5)} B  round ${r + 1}  ${name.padEnd(24)} ${Math.round(rate).toLocaleString('en-US').padStart(10)} msg/s ` +
            `${(rate * size / 1e6).toFixed(1).padStart(8)} MB/s  server ${(sb * 100).toFixed(0).padStart(3)}% client ${(cb * 100).toFixed(0).padStart(3)}% busy`)
        }
      }
      throughput[String(size)] = per
    }

    const trips = {}
    for (const name of names) {
      const { p50 } = await roundTrips(name, near.url, 500) // also the warm-up
      trips[name] = Math.floor(Math.min(50_000, Math.max(200, ROUND_SECS * 1e6 / p50)))
    }
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? names : [...names].reverse()
      for (const name of order) {
        const { p50, p99 } = await roundTrips(name, near.url, trips[name])
        rtt[name] ??= { trips: trips[name], p50_us: [], p99_us: [] }
        rtt[name].p50_us.push(p50)
        rtt[name].p99_us.push(p99)
        console.log(`  same-core round trip  round ${r + 1}  ${name.padEnd(24)} p50 ${p50.toFixed(1).padStart(7)} µs  p99 ${p99.toFixed(1).padStart(7)} µs`)
      }
    }

    const client = { process: 'client (most threads seen)', pid: process.pid, threads: sampled.threads, cpus: [...sampled.cpus].sort() }
    if (CLIENT_CPU !== null) {
      client.expected = String(CLIENT_CPU)
      client.ok = client.cpus.length === 1 && client.cpus[0] === String(CLIENT_CPU)
    }
    affinity.push(client)
    affinity.push(affinityRecord('server', far.pid, SERVER_CPU))
    affinity.push(affinityRecord('same-core server', near.pid, CLIENT_CPU))
    for (const kind of ['wstether', PEER]) {
      const { figures, rec } = idleInChild(kind, far.url)
      idle[kind] = figures
      affinity.push(rec)
      console.log(`  idle  ${kind.padEnd(24)} ${figures.rss_kib.toFixed(1).padStart(7)} KiB RSS, ${figures.heap_kib.toFixed(1)} KiB JS heap + external per client`)
    }
  } finally {
    far.stop()
    near.stop()
  }
  for (const a of affinity) {
    console.log(`  affinity  ${a.process.padEnd(30)} ${String(a.threads).padStart(4)} threads on CPUs ${a.cpus.join(',')}${a.ok === false ? '  NOT CONFINED' : ''}`)
  }
  const doc = {
    layer: 'node',
    title: `Node ${process.version}: wstether vs ws, partysocket, reconnecting-websocket`,
    peer: PEER,
    pinned: CLIENT_CPU !== null,
    server_cpu: SERVER_CPU,
    client_cpu: CLIENT_CPU,
    quick,
    rounds: ROUNDS,
    round_secs: ROUND_SECS,
    throughput,
    rtt_same_core: rtt,
    idle,
    affinity
  }
  const json = option('--json')
  if (json) writeFileSync(json, JSON.stringify(doc, null, 2))
  if (affinity.some((a) => a.ok === false)) {
    console.error('a thread was not confined to its CPU: these figures are not pinned')
    process.exit(1)
  }
}

await main()
