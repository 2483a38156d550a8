// Reaching servers: real proxies (tinyproxy, dante), a `url` function per attempt, `reconnectTo`,
// pinned and client certificates, fixed addresses and the address used.

import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { inspect } from 'node:util'
import { Client } from 'wstether'
import { startTestd, fastOptions, Recorder } from './testkit.mjs'

let d
before(async () => { d = await startTestd() })
after(() => d.stop())

function track (t, client) {
  t.after(() => client.close().catch(() => {}))
  return client
}

const portOf = (address) => Number(address.slice(address.lastIndexOf(':') + 1))

async function echoOnce (client) {
  const rec = new Recorder(client)
  client.connect()
  const open = rec.events[await rec.waitType('open')]
  client.send('through')
  await rec.waitFor(e => e.type === 'message' && e.data === 'through', { what: 'echo' })
  return { rec, open }
}

const PROXY_VARS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy']
function cleanEnv (t) {
  const saved = Object.fromEntries(PROXY_VARS.map(k => [k, process.env[k]]))
  for (const k of PROXY_VARS) delete process.env[k]
  t.after(() => { for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v } })
}

test('behind HTTP_PROXY with default options, the client goes through the proxy; NO_PROXY and proxy: null go direct', async (t) => {
  cleanEnv(t)
  const srv = await d.ctl('/server/start')
  const proxy = await d.ctl('/real_proxy/start?kind=tinyproxy&auth=1')
  t.after(() => d.ctl(`/real_proxy/${proxy.id}/dispose`))
  process.env.HTTP_PROXY = proxy.url
  const viaProxy = track(t, new Client(srv.url))
  const { open } = await echoOnce(viaProxy)
  assert.equal(portOf(open.address), proxy.port)
  assert.equal(viaProxy.stats().address, open.address)
  assert.ok(!inspect(viaProxy).includes('s3cret'))

  const direct = track(t, new Client(srv.url, fastOptions({ proxy: null })))
  assert.equal(portOf((await echoOnce(direct)).open.address), srv.port)

  process.env.NO_PROXY = '127.0.0.1'
  const bypass = track(t, new Client(srv.url, fastOptions()))
  assert.equal(portOf((await echoOnce(bypass)).open.address), srv.port)
})

test('a proxy refusing the credentials is a typed, terminal failure that never shows them', async (t) => {
  const srv = await d.ctl('/server/start')
  const proxy = await d.ctl('/real_proxy/start?kind=tinyproxy&auth=1')
  t.after(() => d.ctl(`/real_proxy/${proxy.id}/dispose`))
  const client = track(t, new Client(srv.url, fastOptions({ proxy: proxy.url_with_wrong_password })))
  const rec = new Recorder(client)
  client.connect()
  const failed = rec.events[await rec.waitType('failed')]
  assert.equal(failed.reason.kind, 'proxy_rejected')
  assert.ok([401, 407].includes(failed.reason.status), `status ${failed.reason.status}`)
  assert.equal(client.stats().attempts, 1)
  assert.ok(!JSON.stringify(rec.events).includes('wrong-password'))
})

test('SOCKS5 with credentials, and a refusal carrying its reply code', async (t) => {
  const srv = await d.ctl('/server/start')
  const dante = await d.ctl('/real_proxy/start?kind=dante&auth=1')
  t.after(() => d.ctl(`/real_proxy/${dante.id}/dispose`))
  const client = track(t, new Client(`ws://localhost:${srv.port}/`, fastOptions({ proxy: dante.url })))
  assert.equal(portOf((await echoOnce(client)).open.address), dante.port)

  const blocked = track(t, new Client(`ws://127.0.0.2:${srv.port}/`, fastOptions({ proxy: dante.url, maxRetries: 1 })))
  const rec = new Recorder(blocked)
  blocked.connect()
  const failed = rec.events[await rec.waitType('failed')]
  assert.equal(failed.reason.last.kind, 'socks_rejected')
  assert.equal(failed.reason.last.socksReply, 2)
})

test('a url function is called once per attempt, and may be async', async (t) => {
  const a = await d.ctl('/server/start')
  const b = await d.ctl('/server/start')
  const asked = []
  const client = track(t, new Client(async (attempt) => {
    asked.push(attempt)
    return (asked.length === 1 ? a : b).url + `?ticket=t${asked.length}`
  }, fastOptions()))
  const rec = new Recorder(client)
  client.connect()
  await rec.waitType('open')
  await d.ctl(`/server/${a.id}/drop_all`)
  await rec.waitFor(e => e.type === 'open', { from: 2, what: 'second open' })
  assert.equal(asked.length, 2)
  assert.equal(client.stats().attempts, 2)
  assert.equal(portOf(client.stats().address), b.port)
  const opens = client.history().filter(h => h.to === 'open').map(h => h.cause)
  assert.ok(opens.at(-1).includes(`127.0.0.1:${b.port}`) && !opens.at(-1).includes('t2'), opens.join(' | '))
})

test('a throwing url function fails that attempt only', async (t) => {
  const srv = await d.ctl('/server/start')
  let calls = 0
  const client = track(t, new Client(() => { if (++calls === 1) throw new Error('token endpoint down'); return srv.url }, fastOptions()))
  const rec = new Recorder(client)
  client.connect()
  await rec.waitType('open')
  const r = rec.events.find(e => e.type === 'reconnecting')
  assert.equal(r.cause.kind, 'url_provider')
  assert.match(r.cause.message, /token endpoint down/)
})

test('reconnectTo moves a live client at once', async (t) => {
  const a = await d.ctl('/server/start')
  const b = await d.ctl('/server/start')
  const client = track(t, new Client(a.url, fastOptions()))
  const rec = new Recorder(client)
  client.connect()
  await rec.waitType('open')
  client.reconnectTo(b.url)
  await rec.waitFor(e => e.type === 'open', { from: 2, what: 'open on b' })
  const close = rec.events.find(e => e.type === 'close')
  assert.deepEqual([close.code, close.willReconnect], [1000, true])
  assert.ok(!rec.events.some(e => e.type === 'reconnecting'))
  assert.equal(portOf(client.stats().address), b.port)
  assert.throws(() => client.reconnectTo('http://x/'), /scheme/)
})

test('a pinned self-signed certificate connects; unpinned, the error says how to fix it', async (t) => {
  const srv = await d.ctl('/server/start?tls=ca_flagged')
  const unpinned = track(t, new Client(srv.url, fastOptions({ tls: { ca: srv.cert_pem }, maxRetries: 1 })))
  const rec = new Recorder(unpinned)
  unpinned.connect()
  const err = rec.events[await rec.waitType('error')]
  assert.match(err.error.message, /CA certificate.*tls\.pinnedCertPem/s)
  const pinned = track(t, new Client(srv.url, fastOptions({ tls: { pinnedCertPem: srv.cert_pem } })))
  await echoOnce(pinned)
})

test('mutual TLS presents the client certificate', async (t) => {
  const srv = await d.ctl('/server/start?tls=1&client_ca=1')
  const client = track(t, new Client(srv.url, fastOptions({ tls: { ca: srv.ca_pem, clientCertPem: srv.client_cert_pem, clientKeyPem: srv.client_key_pem } })))
  await echoOnce(client)
})

test('over TLS, 200 echoes of 64 KiB all come back in order', async (t) => {
  // TLS records span reads: the client must find every message however the bytes arrive.
  const srv = await d.ctl('/server/start?tls=1')
  const client = track(t, new Client(srv.url, fastOptions({ tls: { ca: srv.ca_pem }, outbox: { maxMessages: 1000, maxBytes: 32 << 20 } })))
  const { rec } = await echoOnce(client)
  const from = rec.events.length
  const pad = 'y'.repeat(65536)
  for (let i = 0; i < 200; i++) client.send(`${i}:${pad}`.slice(0, 65536))
  await rec.waitFor(e => e.type === 'message' && e.data.startsWith('199:'), { from, what: 'the last echo', timeoutMs: 10000 })
  const echoes = rec.events.slice(from).filter(e => e.type === 'message').map(e => Number(e.data.split(':')[0]))
  assert.deepEqual(echoes, Array.from({ length: 200 }, (_, i) => i))
})

test('resolve races both families and reports the address used', async (t) => {
  const srv = await d.ctl('/server/start')
  const client = track(t, new Client(`ws://dual.test:${srv.port}/`, fastOptions({ resolve: { 'dual.test': ['::1', '127.0.0.1'] }, proxy: null })))
  const { open } = await echoOnce(client)
  assert.equal(open.address, `127.0.0.1:${srv.port}`)
})

test('bad transport options are typed errors', () => {
  assert.throws(() => new Client('ws://h/', { proxy: 5 }), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => new Client('ws://h/', { proxy: 'ftp://u:hunter2@h' }), (e) => /proxy/.test(e.message) && !e.message.includes('hunter2'))
  assert.throws(() => new Client('wss://h/', { tls: { pinnedCertPem: 'nope' } }), /certificate/)
  assert.throws(() => new Client('wss://h/', { tls: { clientCertPem: 'x' } }), /together/)
  assert.throws(() => new Client('ws://h/', { resolve: { h: ['nope'] } }), /IP address/)
  assert.throws(() => new Client(42), { code: 'ERR_INVALID_ARG_TYPE' })
})
