// The compression bench's `ws` server: `new WebSocketServer({ perMessageDeflate: true })`, so
// ws's own defaults for everything else (zlib level 6, memLevel 8; the window the client's offer
// asks for, else 15 bits; every message compressed, since ws's 1024 B threshold applies only
// when no context takeover was agreed).
//
// Listens on 127.0.0.1 (an ephemeral port), prints one JSON line with the port, library and
// version, and serves until stdin closes. Run it pinned (`taskset -c 0`): its main thread and
// libuv's pool (where ws runs zlib) then share one CPU. The bench protocol (see README.md):
//
//   !blast N SIZE    the first N messages of the SIZE pool (wrapping), then "!blast-done"
//   !sink N SIZE K   reads N messages, checks each against the pool, answers "!ack COUNT" after
//                    every K and "!sink-done N BYTES" after the last ("!sink-error ..." on a bad one)
//   anything else    echoed
//
//   node server_ws.mjs PAYLOADS.json

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { WebSocketServer } from 'ws'

const require = createRequire(import.meta.url)
const version = require('ws/package.json').version
// Sends in flight while blasting: enough to keep zlib and the socket busy, bounded memory.
const WINDOW = 64

const pools = {}
for (const [size, list] of Object.entries(JSON.parse(readFileSync(process.argv[2], 'utf8')))) {
  pools[size] = list.map((s) => Buffer.from(s))
}

function blast (ws, n, size) {
  const pool = pools[size]
  let next = 0
  let pending = 0
  let finished = false
  const pump = () => {
    while (next < n && pending < WINDOW) {
      pending++
      // Sent as text, as a feed would: `fin` and `binary: false` are ws's defaults for strings.
      ws.send(pool[next % pool.length], { binary: false }, sent)
      next++
    }
    if (next === n && pending === 0 && !finished) {
      finished = true
      ws.send('!blast-done')
    }
  }
  const sent = (err) => {
    pending--
    if (err) return ws.terminate()
    pump()
  }
  pump()
}

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true })
wss.on('connection', (ws) => {
  let sink = null
  ws.on('message', (data, isBinary) => {
    if (sink) {
      const pool = pools[sink.size]
      if (!data.equals(pool[sink.count % pool.length])) {
        ws.send(`!sink-error message ${sink.count} differs from the pool`)
        sink = null
        return
      }
      sink.count++
      sink.bytes += data.length
      if (sink.count === sink.n) {
        ws.send(`!sink-done ${sink.count} ${sink.bytes}`)
        sink = null
      } else if (sink.count % sink.every === 0) {
        ws.send(`!ack ${sink.count}`)
      }
      return
    }
    if (!isBinary && data[0] === 0x21 /* ! */) {
      const [cmd, ...args] = data.toString().split(' ')
      if (cmd === '!blast') return blast(ws, Number(args[0]), args[1])
      if (cmd === '!sink') {
        const [n, size, every] = args.map(Number)
        if (n === 0) return ws.send('!sink-done 0 0')
        sink = { n, size, every, count: 0, bytes: 0 }
        return
      }
    }
    ws.send(data, { binary: isBinary })
  })
})
wss.on('listening', () => {
  console.log(JSON.stringify({ port: wss.address().port, library: 'ws', version }))
})
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()
