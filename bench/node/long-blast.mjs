// A long 64 KiB receive blast for one client kind, used to trace where Node's 64 KiB time goes
// (bench/README.md, the run of record's notes): 20,000 messages per round, 7 rounds on one
// connection each (the first one warms up), in one process, printing the median and the rounds.
// Run it pinned, with the server on the other CPU:
//   taskset -c 1 node bench/node/long-blast.mjs wstether|ws
// It expects the release wstether-testd (bench/node/run.sh builds it) and the built package.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import WS from 'ws'
import { Client } from '../../node/esm/index.mjs'

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const kind = process.argv[2] ?? 'wstether'
if (kind !== 'wstether' && kind !== 'ws') throw new Error('usage: long-blast.mjs wstether|ws')
const triple = `${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-unknown-linux-gnu`
const testd = process.env.WSTETHER_TESTD ?? path.join(repo, 'target', triple, 'release', 'wstether-testd')
const serverCpu = process.env.SERVER_CPU ?? '0'
const child = spawn('taskset', ['-c', serverCpu, testd], { stdio: ['pipe', 'pipe', 'inherit'] })
const line = await new Promise((resolve) => createInterface({ input: child.stdout }).once('line', resolve))
const port = JSON.parse(line).control
const { url } = await (await fetch(`http://127.0.0.1:${port}/server/start`, { method: 'POST' })).json()

/** Opens a connection: `send(text)`, `close()`, and every text message to `onText`. */
async function open (onText) {
  if (kind === 'ws') {
    const ws = new WS(url)
    ws.on('message', (data, isBinary) => onText(isBinary ? data : data.toString()))
    await new Promise((resolve) => ws.once('open', resolve))
    return { send: (s) => ws.send(s), close: () => new Promise((resolve) => { ws.once('close', resolve); ws.close() }) }
  }
  const client = new Client(url, { handshakeBudget: false, heartbeat: false })
  client.on('message', onText)
  await new Promise((resolve) => { client.once('open', resolve); client.connect() })
  return { send: (s) => client.send(s), close: () => client.close() }
}

const N = 20000
const rates = []
for (let round = 0; round < 7; round++) {
  let count = 0
  let finish
  const done = new Promise((resolve) => { finish = resolve })
  const conn = await open((s) => { if (s === '!blast-done') finish(); else count++ })
  const t0 = performance.now()
  conn.send(`!blast ${N} 65536`)
  await done
  const secs = (performance.now() - t0) / 1000
  await conn.close()
  if (count !== N) throw new Error(`${kind}: received ${count}/${N}`)
  if (round > 0) rates.push(N / secs / 1000)
}
rates.sort((a, b) => a - b)
console.log(`${kind}: median ${rates[Math.floor(rates.length / 2)].toFixed(1)} k/s; rounds ${rates.map((r) => r.toFixed(1)).join(' ')}`)
child.stdin.end()
