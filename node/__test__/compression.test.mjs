// permessage-deflate (`compression`) against the two servers Node users meet: python-websockets
// (tests/echo/echo_server.py) and `ws` with `perMessageDeflate: true`, both negotiating it; and
// `requireProtocol` against wstether-testd, which selects no subprotocol unless told to.

import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { WebSocketServer } from 'ws'
import { Client, InvalidArgumentError, WstetherError } from 'wstether'
import { startTestd, startPythonEcho, fastOptions, Recorder } from './testkit.mjs'

let d
let pyEcho
before(async () => {
  d = await startTestd()
  pyEcho = await startPythonEcho()
})
after(async () => {
  await pyEcho.stop()
  await d.stop()
})

function track (t, client) {
  t.after(() => client.close().catch(() => {}))
  return client
}

// JSON-like and compressible, as market data or chat history is: about 120 KB.
const BIG = JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ id: i, symbol: 'ABC', price: 100 + i % 7, side: 'buy' })))

/** A `ws` echo server with permessage-deflate on that records every handshake's extension offer. */
async function startWs (t) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true })
  const offers = []
  wss.on('connection', (ws, req) => {
    offers.push(req.headers['sec-websocket-extensions'] ?? null)
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }))
  })
  await once(wss, 'listening')
  t.after(() => new Promise(resolve => { for (const c of wss.clients) c.terminate(); wss.close(resolve) }))
  return { url: `ws://127.0.0.1:${wss.address().port}/`, offers }
}

async function echoes (client, rec, payloads) {
  const from = rec.events.length
  for (const p of payloads) client.send(p)
  await rec.waitFor(() => rec.events.slice(from).filter(e => e.type === 'message').length >= payloads.length, { what: 'the echoes' })
  return rec.events.slice(from).filter(e => e.type === 'message').map(e => e.data)
}

test('python-websockets: deflate negotiated by default; large messages echo intact', async (t) => {
  const client = track(t, new Client(pyEcho.url, fastOptions()))
  const rec = new Recorder(client)
  client.connect()
  const open = rec.events[await rec.waitType('open')]
  assert.match(open.compression, /^permessage-deflate/)
  assert.match(open.address, /^127\.0\.0\.1:\d+$/)
  const got = await echoes(client, rec, [BIG, Buffer.from(BIG), 'small'])
  assert.equal(got[0], BIG)
  assert.deepEqual(got[1], Buffer.from(BIG))
  assert.equal(got[2], 'small')
})

test('ws perMessageDeflate: negotiated, the default offer, and large messages echo intact', async (t) => {
  const ws = await startWs(t)
  const client = track(t, new Client(ws.url, fastOptions()))
  const rec = new Recorder(client)
  client.connect()
  const open = rec.events[await rec.waitType('open')]
  assert.match(open.compression, /^permessage-deflate/)
  assert.match(ws.offers[0], /^permessage-deflate/)
  assert.match(ws.offers[0], /client_max_window_bits=\d+/)
  assert.match(ws.offers[0], /server_max_window_bits=\d+/)
  const got = await echoes(client, rec, [BIG, BIG, BIG])
  assert.ok(got.every(m => m === BIG))
})

test('compression: false (and null) offers nothing and opens uncompressed', async (t) => {
  const ws = await startWs(t)
  for (const compression of [false, null]) {
    const client = track(t, new Client(ws.url, fastOptions({ compression })))
    const rec = new Recorder(client)
    client.connect()
    const open = rec.events[await rec.waitType('open')]
    assert.equal(open.compression, null)
    assert.deepEqual(await echoes(client, rec, [BIG]), [BIG])
    await client.close()
  }
  assert.deepEqual(ws.offers, [null, null])
  const py = track(t, new Client(pyEcho.url, fastOptions({ compression: false })))
  const rec = new Recorder(py)
  py.connect()
  assert.equal(rec.events[await rec.waitType('open')].compression, null)
})

test('compression options reach the offer and the agreement', async (t) => {
  const ws = await startWs(t)
  const client = track(t, new Client(ws.url, fastOptions({
    compression: { clientMaxWindowBits: null, serverMaxWindowBits: null, clientNoContextTakeover: true, serverNoContextTakeover: true }
  })))
  const rec = new Recorder(client)
  client.connect()
  const open = rec.events[await rec.waitType('open')]
  assert.match(open.compression, /server_no_context_takeover/)
  assert.match(open.compression, /client_no_context_takeover/)
  assert.match(ws.offers[0], /client_no_context_takeover/)
  assert.doesNotMatch(ws.offers[0], /server_max_window_bits/)
  const got = await echoes(client, rec, [BIG, BIG])
  assert.ok(got.every(m => m === BIG))
})

test('bad compression options are typed errors naming the option', () => {
  const bad = (compression, words) => assert.throws(() => new Client('ws://127.0.0.1:9/', { compression }), (e) => {
    assert.ok(e instanceof WstetherError, `${e.name}: ${e.message}`)
    assert.ok(e instanceof InvalidArgumentError)
    assert.match(e.message, words)
    return true
  })
  bad({ clientMaxWindowBits: 8 }, /compression\.client_max_window_bits.*15/)
  bad({ serverMaxWindowBits: 16 }, /compression\.server_max_window_bits.*15/)
  bad({ clientMaxWindowBits: 1e9 }, /compression\.client_max_window_bits/)
  bad({ clientMaxWindowBits: 12.5 }, /compression\.client_max_window_bits/)
  bad({ clientMaxWindowBits: '12' }, /clientMaxWindowBits/)
  bad({ windowBits: 12 }, /compression\.windowBits/)
  bad('yes', /compression/)
})

test('a server that selects no protocol opens without one; requireProtocol makes that terminal', async (t) => {
  const srv = await d.ctl('/server/start')
  const lax = track(t, new Client(srv.url, fastOptions({ protocols: ['chat'] })))
  const laxRec = new Recorder(lax)
  lax.connect()
  assert.equal(laxRec.events[await laxRec.waitType('open')].protocol, null)

  const strict = track(t, new Client(srv.url, fastOptions({ protocols: ['chat', 'v2'], requireProtocol: true })))
  const rec = new Recorder(strict)
  strict.connect()
  const failed = rec.events[await rec.waitType('failed')]
  assert.equal(failed.reason.kind, 'incompatible')
  assert.match(failed.reason.message, /chat/)
  assert.ok(!rec.types().includes('open'))
  assert.equal(strict.state, 'failed')

  const matching = await d.ctl('/server/start?protocols=v2')
  const ok = track(t, new Client(matching.url, fastOptions({ protocols: ['chat', 'v2'], requireProtocol: true })))
  const okRec = new Recorder(ok)
  ok.connect()
  assert.equal(okRec.events[await okRec.waitType('open')].protocol, 'v2')
  assert.throws(() => new Client(srv.url, { requireProtocol: 'yes' }), InvalidArgumentError)
})
