// The cross-language scenarios of tests/README.md, driven through the public Node API against
// wstether-testd. Each waits for events with a deadline and checks order and server-side stats.

import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { Client } from 'wstether'
import { startTestd, fastOptions, Recorder } from './testkit.mjs'

let d
before(async () => { d = await startTestd() })
after(() => d.stop())

// Close every client a test made, even when it failed midway.
function track (t, client) {
  t.after(() => client.close().catch(() => {}))
  return client
}

/** Assert that `types` (a list) matches `pattern` (a regex over the space-joined types). */
function assertSequence (rec, pattern) {
  assert.match(rec.summary(), pattern, `event sequence: ${rec.summary()}`)
}

test('echo: text and binary round trip, protocol negotiated, clean close', async (t) => {
  const srv = await d.ctl('/server/start?protocols=chat')
  const client = track(t, new Client(srv.url, fastOptions({ protocols: ['v0', 'chat'] })))
  const rec = new Recorder(client)
  client.connect()
  await rec.waitType('open')
  assert.equal(rec.events[1].protocol, 'chat')
  assert.equal(rec.events[0].attempt, 1)
  assert.equal(client.send('hello'), 'sent')
  assert.equal(client.send(new Uint8Array([1, 2, 3])), 'sent')
  await rec.waitFor(e => e.type === 'message' && Buffer.isBuffer(e.data), { what: 'binary echo' })
  const unsent = await client.close(1000, 'bye')
  assert.deepEqual(unsent, [])
  assert.equal(rec.summary(), 'connecting open message(hello) message(bin) close')
  const close = rec.events.at(-1)
  assert.deepEqual([close.code, close.initiator, close.willReconnect], [1000, 'local', false])
  assert.deepEqual(rec.events[3].data, Buffer.from([1, 2, 3]))
  assert.equal(client.state, 'closed')
  const stats = await d.ctl(`/server/${srv.id}/stats`)
  assert.deepEqual(stats.received, ['hello', 'bin:3'])
  assert.match(stats.protocols[0], /^v0, ?chat$/)
  assert.deepEqual(stats.close_codes, [1000])
  assert.equal(stats.handshakes, 1)
})

test('server-restart: reconnects after the server comes back, attempts never overlap', async (t) => {
  const srv = await d.ctl('/server/start')
  const client = track(t, new Client(srv.url, fastOptions()))
  const rec = new Recorder(client)
  client.connect()
  await rec.waitType('open')
  await d.ctl(`/server/${srv.id}/stop?code=1012`)
  const failed = await rec.waitFor(e => e.type === 'error' && e.kind === 'connect', { what: 'connect error' })
  await d.ctl(`/server/${srv.id}/restart`)
  await rec.waitType('open', { from: failed })
  assertSequence(rec, /^connecting open close reconnecting (connecting error\(connect\) reconnecting )+connecting open$/)
  const close = rec.events[2]
  assert.deepEqual([close.code, close.initiator, close.willReconnect], [1012, 'remote', true])
  assert.equal(rec.events[3].cause.kind, 'closed')
  assert.ok(rec.events.filter(e => e.type === 'reconnecting').slice(1).every(e => e.cause.kind === 'connect_failed'))
  const stats = await d.ctl(`/server/${srv.id}/stats`)
  assert.equal(stats.handshakes, 2)
  assert.ok(stats.close_codes.includes(1012))
})

test('server-crash: a dropped TCP connection is a network close, then reconnect', async (t) => {
  const srv = await d.ctl('/server/start')
  const client = track(t, new Client(srv.url, fastOptions()))
  const rec = new Recorder(client)
  client.connect()
  await rec.waitType('open')
  await d.ctl(`/server/${srv.id}/drop_all`)
  await rec.waitType('open', { from: 2 })
  assert.equal(rec.summary(), 'connecting open close reconnecting connecting open')
  const close = rec.events[2]
  assert.deepEqual([close.code, close.initiator, close.willReconnect], [1006, 'network', true])
  assert.equal(rec.events[3].cause.kind, 'network')
})

test('half-open: the heartbeat finds a blackholed link within interval + timeout', async (t) => {
  const srv = await d.ctl('/server/start')
  const proxy = await d.ctl(`/proxy/start?target_port=${srv.port}`)
  const client = track(t, new Client(proxy.url, fastOptions({ heartbeat: { intervalMs: 200, timeoutMs: 200 } })))
  const rec = new Recorder(client)
  client.connect()
  await rec.waitType('open')
  await d.ctl(`/proxy/${proxy.id}/mode?mode=blackhole`)
  const t0 = performance.now()
  const closed = await rec.waitType('close', { from: 2 })
  const elapsed = rec.events[closed].at - t0
  await d.ctl(`/proxy/${proxy.id}/mode?mode=pass`)
  await rec.waitType('open', { from: closed })
  const close = rec.events[closed]
  assert.deepEqual([close.code, close.initiator, close.willReconnect], [1006, 'network', true])
  assert.ok(elapsed >= 150 && elapsed <= 400 + 150 + 100, `detected after ${elapsed.toFixed(0)} ms`)
  assert.equal(rec.events[closed + 1].type, 'reconnecting')
  assert.equal(rec.events[closed + 1].cause.kind, 'heartbeat_timeout')
  assertSequence(rec, /^connecting open close reconnecting (connecting error\(connect\) reconnecting )*connecting open$/)
  assert.equal((await d.ctl(`/proxy/${proxy.id}/wait_live?n=1&timeout_ms=2000`)).ok, true)
})

test('auth-refresh: the provider is asked before every attempt; a 401 retries at once with a fresh token', async (t) => {
  const srv = await d.ctl('/server/start?token=t1')
  const tokens = ['t1', 't1', 't2']
  const calls = []
  const client = track(t, new Client(srv.url, fastOptions({
    auth: async (attempt, { afterUnauthorized }) => {
      calls.push({ attempt, afterUnauthorized })
      await new Promise(resolve => setTimeout(resolve, 5)) // a real async provider
      return { Authorization: `Bearer ${tokens[Math.min(calls.length - 1, 2)]}` }
    }
  })))
  const rec = new Recorder(client)
  client.connect()
  await rec.waitType('open')
  await d.ctl(`/server/${srv.id}/token?value=t2`)
  await d.ctl(`/server/${srv.id}/drop_all`)
  await rec.waitType('open', { from: 2 })
  assert.equal(rec.summary(), 'connecting open close reconnecting connecting error(auth) connecting open')
  assert.equal(calls.length, 3)
  assert.equal(calls[2].afterUnauthorized, true)
  const stats = await d.ctl(`/server/${srv.id}/stats`)
  assert.deepEqual(stats.auth_headers, ['Bearer t1', 'Bearer t1', 'Bearer t2'])
  assert.equal(stats.rejected, 1)
})

test('auth provider that throws is an auth error, and the client keeps trying', async (t) => {
  const srv = await d.ctl('/server/start')
  let n = 0
  const client = track(t, new Client(srv.url, fastOptions({
    auth: () => { if (++n === 1) throw new Error('token service down'); return [['X-Try', String(n)]] }
  })))
  const rec = new Recorder(client)
  client.connect()
  await rec.waitType('open')
  const err = rec.events.find(e => e.type === 'error')
  assert.equal(err.kind, 'auth')
  assert.equal(err.error.code, 'ERR_AUTH')
  assert.match(err.error.message, /token service down/)
})

test('outbox: messages sent while down go out in order after the greeting; close() returns the unsent', async (t) => {
  const srv = await d.ctl('/server/start')
  await d.ctl(`/server/${srv.id}/stop`)
  const client = track(t, new Client(srv.url, fastOptions({ greeting: ['greet'] })))
  const rec = new Recorder(client)
  client.connect()
  await rec.waitFor(e => e.type === 'error' && e.kind === 'connect', { what: 'connect error' })
  assert.deepEqual(['m1', 'm2', 'm3'].map(m => client.send(m)), ['queued', 'queued', 'queued'])
  await d.ctl(`/server/${srv.id}/restart`)
  await rec.waitFor(e => e.type === 'message' && e.data === 'm3', { what: 'm3 echo' })
  const opened = rec.types().indexOf('open')
  assert.deepEqual(rec.events.slice(opened + 1, opened + 5).map(e => e.data), ['greet', 'm1', 'm2', 'm3'])
  await d.ctl(`/server/${srv.id}/stop`)
  await rec.waitType('close')
  assert.deepEqual([client.send('u1'), client.send(Buffer.from('u2'))], ['queued', 'queued'])
  const unsent = await client.close(1000, 'done')
  assert.deepEqual(unsent, ['u1', Buffer.from('u2')])
  const stats = await d.ctl(`/server/${srv.id}/stats`)
  assert.deepEqual(stats.received, ['greet', 'm1', 'm2', 'm3'])
})

test('greeting function: awaited on every open; one that throws is an error event and the link stays up', async (t) => {
  const srv = await d.ctl('/server/start')
  let opens = 0
  const greeting = async () => {
    opens += 1
    if (opens === 2) throw new Error('subscriptions unavailable')
    return [`sub:${opens}`]
  }
  const client = track(t, new Client(srv.url, fastOptions({ greeting })))
  const rec = new Recorder(client)
  client.connect()
  await rec.waitFor(e => e.type === 'message' && e.data === 'sub:1', { what: 'first greeting echo' })
  await d.ctl(`/server/${srv.id}/drop_all`)
  const err = await rec.waitFor(e => e.type === 'error' && /subscriptions unavailable/.test(e.message ?? e.error?.message ?? ''), { what: 'greeting error' })
  assert.ok(err)
  client.send('still up')
  await rec.waitFor(e => e.type === 'message' && e.data === 'still up', { what: 'echo after failed greeting' })
  await d.ctl(`/server/${srv.id}/drop_all`)
  await rec.waitFor(e => e.type === 'message' && e.data === 'sub:3', { what: 'third greeting echo' })
  const stats = await d.ctl(`/server/${srv.id}/stats`)
  assert.deepEqual(stats.received, ['sub:1', 'still up', 'sub:3'])
})

test('max-retries: failed after exactly maxRetries attempts, with the cause', async (t) => {
  const srv = await d.ctl('/server/start')
  const proxy = await d.ctl(`/proxy/start?target_port=${srv.port}`)
  await d.ctl(`/proxy/${proxy.id}/mode?mode=refuse`)
  const client = track(t, new Client(proxy.url, fastOptions({ maxRetries: 3 })))
  const rec = new Recorder(client)
  client.send('never delivered')
  client.connect()
  await rec.waitType('failed')
  assert.equal(rec.summary(), 'connecting error(connect) reconnecting connecting error(connect) reconnecting connecting error(connect) failed')
  assert.deepEqual(rec.events.filter(e => e.type === 'connecting').map(e => e.attempt), [1, 2, 3])
  const failed = rec.events.at(-1)
  assert.equal(failed.reason.kind, 'retries_exhausted')
  assert.equal(failed.reason.attempts, 3)
  assert.equal(failed.reason.last.kind, 'connect_failed')
  assert.deepEqual(failed.unsent, ['never delivered'])
  assert.equal(client.stats().attempts, 3)
  assert.equal(client.state, 'failed')
  assert.throws(() => client.send('x'), { name: 'ClientClosedError', code: 'ERR_FAILED' })
})

test('terminal-403: no retry, failed with handshake_rejected', async (t) => {
  const srv = await d.ctl('/server/start')
  await d.ctl(`/server/${srv.id}/reject?status=403`)
  const client = track(t, new Client(srv.url, fastOptions()))
  const rec = new Recorder(client)
  client.connect()
  await rec.waitType('failed')
  assert.equal(rec.summary(), 'connecting error(auth) failed')
  assert.equal(rec.events[2].reason.kind, 'handshake_rejected')
  assert.equal(rec.events[2].reason.status, 403)
})

test('close-1008: a policy close is terminal', async (t) => {
  const srv = await d.ctl('/server/start')
  const client = track(t, new Client(srv.url, fastOptions()))
  const rec = new Recorder(client)
  client.connect()
  await rec.waitType('open')
  await d.ctl(`/server/${srv.id}/close_all?code=1008&reason=policy`)
  await rec.waitType('failed')
  assert.equal(rec.summary(), 'connecting open close failed')
  assert.deepEqual([rec.events[2].code, rec.events[2].initiator, rec.events[2].willReconnect], [1008, 'remote', false])
  assert.equal(rec.events[3].reason.code, 1008)
})

test('events(): async iteration sees every event in order and ends after close', async (t) => {
  const srv = await d.ctl('/server/start')
  const client = track(t, new Client(srv.url, fastOptions()))
  const seen = []
  const consumer = (async () => {
    for await (const ev of client.events()) {
      seen.push(ev.type === 'message' ? `message:${ev.data}` : ev.type === 'state' ? `state:${ev.state}` : ev.type)
      if (ev.type === 'open') client.send('one')
      if (ev.type === 'message') client.close()
    }
  })()
  client.connect()
  await consumer
  assert.deepEqual(seen.filter(s => !s.startsWith('state:')), ['connecting', 'open', 'message:one', 'close'])
  assert.equal(seen.at(-1), 'state:closed')
})

test('callback-error: a throwing listener is warned about and reported once, and the client carries on', async (t) => {
  const srv = await d.ctl('/server/start')
  const client = track(t, new Client(srv.url, fastOptions()))
  const rec = new Recorder(client)
  const warnings = []
  const onWarning = (w) => { if (w.name === 'WstetherWarning') warnings.push(w.message) }
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  client.on('message', (data) => { if (data === 'boom') throw new Error('boom') })
  const reports = []
  client.on('error', (e) => {
    if (e.kind === 'callback') {
      reports.push(e)
      throw new Error('the error listener fails too')
    }
  })
  client.connect()
  await rec.waitType('open')
  for (const text of ['one', 'boom', 'two']) client.send(text)
  await rec.waitFor(e => e.type === 'message' && e.data === 'two', { what: 'two' })
  assert.equal(client.state, 'open')
  assert.deepEqual(await client.close(1000, ''), [])
  assert.equal(rec.summary(), 'connecting open message(one) message(boom) error(callback) message(two) close')
  const report = rec.events[4].error
  assert.equal(report.code, 'ERR_CALLBACK')
  assert.match(report.message, /'message' listener raised Error: boom/)
  assert.equal(report.cause.message, 'boom')
  assert.deepEqual(reports, [report])
  const close = rec.events[6]
  assert.deepEqual([close.code, close.initiator, close.willReconnect], [1000, 'local', false])
  const deadline = Date.now() + 5000
  while (warnings.length < 2 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 5))
  assert.equal(warnings.length, 2, warnings.join('\n'))
  assert.match(warnings[0], /'message' listener raised Error: boom/)
  assert.match(warnings[1], /'error' listener raised Error: the error listener fails too/)
})
