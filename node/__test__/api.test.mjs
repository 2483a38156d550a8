// The Node-specific contract: typed errors, listener exceptions, late listeners, CJS/ESM entries,
// and that a process whose clients are closed exits by itself.

import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import * as esm from 'wstether'
import { Client, InvalidArgumentError, QueueFullError, MessageTooLargeError, ClientClosedError, WstetherError } from 'wstether'
import { startTestd, fastOptions, Recorder } from './testkit.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
let d
before(async () => { d = await startTestd() })
after(() => d.stop())

function track (t, client) {
  t.after(() => client.close().catch(() => {}))
  return client
}

test('bad arguments throw typed errors with a code', async () => {
  const bad = (f, code) => assert.throws(f, (e) => {
    assert.ok(e instanceof InvalidArgumentError, `${e.name}: ${e.message}`)
    assert.ok(e instanceof WstetherError && e instanceof Error)
    assert.equal(e.code, code)
    return true
  })
  bad(() => new Client('http://example.com'), 'ERR_INVALID_SCHEME')
  bad(() => new Client('not a url'), 'ERR_INVALID_URL')
  bad(() => new Client(42), 'ERR_INVALID_ARG_TYPE')
  bad(() => new Client('ws://x', { headers: { 'X-A': 'a\r\nInjected: 1' } }), 'ERR_INVALID_HEADER')
  bad(() => new Client('ws://x', { headers: { 'X-A': 5 } }), 'ERR_INVALID_ARG_TYPE')
  bad(() => new Client('ws://x', { backoff: { initialMs: -1 } }), 'ERR_INVALID_OPTION')
  bad(() => new Client('ws://x', { backoff: { initialMs: NaN } }), 'ERR_INVALID_OPTION')
  bad(() => new Client('ws://x', { backoff: { factor: 0.5 } }), 'ERR_INVALID_OPTION')
  bad(() => new Client('ws://x', { backoff: { jitter: 2 } }), 'ERR_INVALID_OPTION')
  bad(() => new Client('ws://x', { backoff: { initialMs: '1000' } }), 'ERR_INVALID_ARG_TYPE')
  bad(() => new Client('ws://x', { heartbeat: { intervalMs: 0 } }), 'ERR_INVALID_OPTION')
  bad(() => new Client('ws://x', { maxRetries: 1.5 }), 'ERR_INVALID_OPTION')
  bad(() => new Client('ws://x', { outbox: { maxMessages: 0 } }), 'ERR_INVALID_OPTION')
  bad(() => new Client('ws://x', { handshakeBudget: 0 }), 'ERR_INVALID_OPTION')
  bad(() => new Client('ws://x', { tls: { ca: 'not a pem' } }), 'ERR_INVALID_CERTIFICATE')
  bad(() => new Client('ws://x', { protocols: ['a b'] }), 'ERR_INVALID_HEADER')
  bad(() => new Client('ws://x', { auth: 'token' }), 'ERR_INVALID_ARG_TYPE')
  bad(() => new Client('ws://x', { heartBeat: {} }), 'ERR_INVALID_OPTION') // a typo is not ignored
  const client = new Client('ws://127.0.0.1:9', fastOptions({ maxMessageSize: 4, outbox: { maxMessages: 1 } }))
  bad(() => client.send(12), 'ERR_INVALID_ARG_TYPE')
  assert.throws(() => client.send('12345'), (e) => e instanceof MessageTooLargeError && e.code === 'ERR_MESSAGE_TOO_LARGE')
  assert.equal(client.send('1'), 'queued')
  assert.throws(() => client.send('2'), (e) => e instanceof QueueFullError && e.code === 'ERR_QUEUE_FULL')
  await assert.rejects(client.close(999), (e) => e instanceof InvalidArgumentError && e.code === 'ERR_INVALID_CLOSE_CODE')
  await assert.rejects(client.close(1000, 'x'.repeat(124)), (e) => e.code === 'ERR_CLOSE_REASON_TOO_LONG')
  await assert.rejects(client.close('1000'), (e) => e.code === 'ERR_INVALID_ARG_TYPE')
  assert.deepEqual(await client.close(), ['1'])
  assert.deepEqual(await client.close(), [], 'close() is idempotent')
  assert.throws(() => client.send('x'), (e) => e instanceof ClientClosedError && e.code === 'ERR_CLOSED')
  assert.throws(() => client.connect(), (e) => e instanceof ClientClosedError)
})

test('a listener that throws is reported as an error event and the client carries on', async (t) => {
  const srv = await d.ctl('/server/start')
  const client = track(t, new Client(srv.url, fastOptions()))
  const rec = new Recorder(client)
  const got = []
  client.on('message', (data) => {
    if (data === 'boom') throw new Error('handler bug')
  })
  client.on('message', async (data) => {
    if (data === 'async-boom') throw new Error('async handler bug')
  })
  client.on('message', (data) => got.push(data)) // still called after the first one threw
  client.connect()
  await rec.waitType('open')
  client.send('boom')
  client.send('async-boom')
  client.send('after')
  await rec.waitFor(e => e.type === 'message' && e.data === 'after', { what: 'after' })
  await rec.waitFor(e => e.type === 'error' && /async handler bug/.test(e.error.message), { what: 'async error' })
  const errors = rec.events.filter(e => e.type === 'error')
  assert.equal(errors.length, 2)
  assert.equal(errors[0].kind, 'callback')
  assert.equal(errors[0].error.code, 'ERR_CALLBACK')
  assert.equal(errors[0].error.cause.message, 'handler bug')
  assert.deepEqual(got, ['boom', 'async-boom', 'after'])
  assert.equal(client.state, 'open')
  assert.equal(client.send('still alive'), 'sent')
  await rec.waitFor(e => e.type === 'message' && e.data === 'still alive', { what: 'echo after errors' })
})

/** Poll `cond` until it holds, failing after 5 s. */
async function until (cond, what) {
  const deadline = Date.now() + 5000
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

test('late listener: messages wait for a message listener, so none is lost after awaiting open', async (t) => {
  const srv = await d.ctl('/server/start')
  // Greeting echoes arrive right after open, typically in the same batch as `open`.
  const client = track(t, new Client(srv.url, fastOptions({ greeting: ['g1', 'g2', 'g3'] })))
  client.connect()
  await once(client, 'open')
  // Make the listener late for real: wait until the core has read all three echoes.
  await until(() => client.stats().messagesIn >= 3, 'the three echoes to be read')
  const got = []
  client.on('message', (data) => got.push(data))
  assert.deepEqual(got, [], 'never delivered synchronously inside on()')
  const deadline = Date.now() + 5000
  while (got.length < 3 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 10))
  assert.deepEqual(got, ['g1', 'g2', 'g3'])
})

test('late listener: events that follow a held message wait too (order is kept)', async (t) => {
  const srv = await d.ctl('/server/start')
  // On every open the server echoes 'm1' and then closes with 4001.
  const client = track(t, new Client(srv.url, fastOptions({ greeting: ['m1', '!close 4001 bye'] })))
  const order = []
  client.on('open', () => order.push('open'))
  client.on('close', (info) => order.push(`close:${info.code}`))
  client.connect()
  await once(client, 'open')
  // The core has seen the close (its state moved on), yet nobody has heard the message before it.
  await until(() => client.state !== 'open', 'the server close to reach the core')
  assert.deepEqual(order, ['open'], 'the close waits behind the unheard message')
  client.on('message', (data) => order.push(`message:${data}`))
  await once(client, 'close')
  assert.deepEqual(order.slice(0, 3), ['open', 'message:m1', 'close:4001'])
})

test('nothing is delivered before connect(), and an unconnected client needs no close', async () => {
  const client = new Client('ws://127.0.0.1:9', fastOptions())
  let events = 0
  client.on('state', () => events++)
  await new Promise(resolve => setTimeout(resolve, 50))
  assert.equal(events, 0)
  assert.equal(client.state, 'idle')
})

test('CommonJS and ESM entries share one set of classes', () => {
  const require = createRequire(import.meta.url)
  const cjs = require('wstether')
  assert.equal(cjs.Client, esm.Client)
  assert.equal(cjs.QueueFullError, esm.QueueFullError)
  assert.equal(esm.default.Client, Client)
})

function runChild (file, args, timeoutMs, nodeFlags = []) {
  const child = spawn(process.execPath, [...nodeFlags, path.join(here, file), ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (b) => { out += b })
  return new Promise((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve({ code: null, out, timedOut: true }) }, timeoutMs)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out, timedOut: false }) })
  })
}

test('a worker thread terminated while its client is open leaves the process healthy', async () => {
  const srv = await d.ctl('/server/start')
  const r = await runChild('fixtures/worker-child.mjs', [srv.url], 10000)
  assert.equal(r.timedOut, false, `child still running after 10 s; output: ${r.out}`)
  assert.equal(r.code, 0, r.out)
  assert.match(r.out, /worker 1 terminated/)
  assert.match(r.out, /main echo ok/)
})

test('a process whose clients are all closed exits by itself (within 5 s)', async () => {
  const srv = await d.ctl('/server/start')
  const started = Date.now()
  const r = await runChild('fixtures/exit-child.mjs', [srv.url], 5000)
  assert.equal(r.timedOut, false, `child still running after 5 s; output: ${r.out}`)
  assert.equal(r.code, 0, r.out)
  assert.match(r.out, /echo ok/)
  assert.match(r.out, /failed ok/)
  assert.ok(Date.now() - started < 5000)
})

// The uv pump (Unix) has the hook that makes one step of its start fail.
const { native } = createRequire(import.meta.url)('../dist/native.js')
const noPumpHook = typeof native.failPumpStartForTests !== 'function' && 'the addon has no uv pump here'

test('a client whose native start fails at any step releases what that start had acquired', { skip: noPumpHook }, async () => {
  const srv = await d.ctl('/server/start')
  const r = await runChild('fixtures/pump-start-child.mjs', [srv.url], 10000, ['--expose-gc'])
  assert.equal(r.timedOut, false, `child still running after 10 s (a libuv handle left open?); output: ${r.out}`)
  assert.equal(r.code, 0, r.out)
  for (let step = 1; step <= 6; step++) assert.match(r.out, new RegExp(`step ${step} released`))
  for (const step of [1, 5, 6]) assert.match(r.out, new RegExp(`step ${step}: starts again after a failed start`))
  assert.match(r.out, /starts after failures/)
})

test('sends that fill the socket while the server does not read all arrive once it reads again', async (t) => {
  // 16 MiB is more than the loopback socket buffers hold, so writes wait for the socket to
  // drain: the wait must end by itself (no heartbeat here to drive the client).
  const { WebSocketServer } = await import('ws')
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(wss, 'listening')
  t.after(() => new Promise(resolve => { for (const c of wss.clients) c.terminate(); wss.close(resolve) }))
  const n = 256
  let received = 0
  let inOrder = true
  const allIn = new Promise(resolve => {
    wss.on('connection', (ws) => {
      ws._socket.pause()
      setTimeout(() => ws._socket.resume(), 500)
      ws.on('message', (data) => {
        if (!data.toString('latin1', 0, 8).startsWith(`${received}:`)) inOrder = false
        if (++received === n) resolve()
      })
    })
  })
  const client = track(t, new Client(`ws://127.0.0.1:${wss.address().port}/`, {
    heartbeat: false, outbox: { maxMessages: 1000, maxBytes: 32 << 20 }
  }))
  client.connect()
  await once(client, 'open')
  const pad = 'x'.repeat(65536)
  for (let i = 0; i < n; i++) client.send(`${i}:${pad}`.slice(0, 65536))
  await Promise.race([allIn, new Promise((resolve, reject) => setTimeout(() => reject(new Error(`server received ${received} of ${n}`)), 10000))])
  assert.ok(inOrder)
  assert.equal(client.stats().messagesOut, n)
})

test('a JS thread busy for longer than the heartbeat timeout keeps its link (the core reads at its timers)', async (t) => {
  // The JS loop watches the socket, so nothing reads on arrival while JS is busy; the core's
  // heartbeat timers must still read the pongs, or the link would be judged dead.
  const srv = await d.ctl('/server/start')
  const client = track(t, new Client(srv.url, fastOptions({ heartbeat: { intervalMs: 100, timeoutMs: 400 } })))
  const rec = new Recorder(client)
  client.connect()
  await rec.waitType('open')
  const end = Date.now() + 1500
  while (Date.now() < end) { /* busy, as a long computation is */ }
  const from = rec.events.length
  client.send('after')
  await rec.waitFor(e => e.type === 'message' && e.data === 'after', { from, what: 'echo after the busy stretch' })
  assert.deepEqual(rec.events.filter(e => e.type === 'close' || e.type === 'reconnecting'), [])
})
