// The cross-language scenarios of tests/README.md, where a browser can express them, run in
// headless Chromium on a Vite-built page that imports `wstether` (the npm package's `browser`
// entry: the core's machine compiled to WebAssembly over the browser's WebSocket), against
// wstether-testd on 127.0.0.1. Every wait has a deadline; nothing sleeps and hopes.
//
// Left out, because a page cannot see or send what they need: auth-refresh (handshake headers;
// the URL provider test below is the browser's way), retry-after and terminal-403 (a page is
// not shown the HTTP status of a refused upgrade: it is a connect failure), tls (a private CA
// cannot be trusted by a page).

import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { artifacts, openPage, serve, startTestd, viteBuild } from './harness.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const FAST = { backoff: { initialMs: 50, maxMs: 200, factor: 2, jitter: 0 }, connectTimeoutMs: 1000, heartbeat: false }
const HEARTBEAT = { intervalMs: 200, timeoutMs: 200, appPing: { payload: 'hb', pong: { exact: 'hb' } } }
const SLACK = 150

let d, site, b, page
let n = 0

before(async () => {
  d = await startTestd()
  await viteBuild(path.join(here, '..', 'vite.config.js'))
  site = await serve(path.join(artifacts, 'page'))
  b = await openPage(site.url)
  page = b.page
})

after(async () => {
  await page?.evaluate(() => window.t.closeAll()).catch(() => {})
  await b?.browser.close()
  await site?.close()
  await d?.stop()
})

/** A new client in the page; resolves to a small handle. */
async function client (url, options = FAST, extra = {}) {
  const id = `c${++n}`
  await page.evaluate(([id, url, options, extra]) => { window.t.create(id, url, options, extra) }, [id, url, options, extra])
  const call = async (method, ...args) => {
    const r = await page.evaluate(([id, method, args]) => window.t.call(id, method, ...args), [id, method, args])
    if ('error' in r) { const e = new Error(r.message); e.code = r.error; e.className = r.name; throw e }
    return r.ok
  }
  return {
    id,
    call,
    connect: () => call('connect'),
    send: (m) => call('send', m),
    close: (code, reason) => call('close', code, reason),
    waitFor: (match, { from = 0, timeoutMs = 5000 } = {}) => page.evaluate(([id, match, from, timeoutMs]) => window.t.waitFor(id, match, from, timeoutMs), [id, match, from, timeoutMs]),
    events: () => page.evaluate((id) => window.t.events(id), id),
    summary: () => page.evaluate((id) => window.t.summary(id), id),
    run: (source) => page.evaluate(([id, source]) => window.t.run(id, source), [id, source])
  }
}

/** Events without `state` and `pong`, as the scenarios count them. */
async function scenarioEvents (c) {
  return (await c.events()).filter(e => e.type !== 'state' && e.type !== 'pong')
}

test('echo: text and binary round trip, protocol negotiated, clean close', async () => {
  const srv = await d.ctl('/server/start?protocols=chat')
  const c = await client(srv.url, { ...FAST, protocols: ['v0', 'chat'] })
  await c.connect()
  await c.waitFor({ type: 'open' })
  assert.equal(await c.send('hello'), 'sent')
  assert.equal(await c.run('(c) => c.send(new Uint8Array([1, 2, 3]))'), 'sent')
  await c.waitFor({ type: 'message', data: 'bin:1,2,3' })
  assert.deepEqual(await c.close(1000, 'bye'), [])
  assert.equal(await c.summary(), 'connecting open message(hello) message(bin:1,2,3) close')
  const ev = await scenarioEvents(c)
  assert.equal(ev[0].attempt, 1)
  assert.equal(ev[1].protocol, 'chat')
  assert.deepEqual([ev[4].code, ev[4].initiator, ev[4].willReconnect], [1000, 'local', false])
  assert.equal(await c.call('run', 0).catch(() => null), null)
  const stats = await d.ctl(`/server/${srv.id}/stats`)
  assert.deepEqual(stats.received, ['hello', 'bin:3'])
  assert.match(stats.protocols[0], /^v0, ?chat$/)
  assert.deepEqual(stats.close_codes, [1000])
  assert.equal(stats.handshakes, 1)
})

test('server-restart: reconnects within the backoff after the server comes back, attempts never overlap', async () => {
  const srv = await d.ctl('/server/start')
  const c = await client(srv.url)
  await c.connect()
  await c.waitFor({ type: 'open' })
  await d.ctl(`/server/${srv.id}/stop?code=1012`)
  const failed = await c.waitFor({ type: 'error', kind: 'connect' })
  await d.ctl(`/server/${srv.id}/restart`)
  const back = performance.now()
  // The curve's maximum is 200 ms: one more attempt after the restart at most that far off.
  await c.waitFor({ type: 'open' }, { from: failed, timeoutMs: 200 + 1000 + SLACK })
  assert.ok(performance.now() - back < 200 + 1000 + SLACK)
  assert.match(await c.summary(), /^connecting open close reconnecting (connecting error\(connect\) reconnecting )+connecting open$/)
  const ev = await scenarioEvents(c)
  assert.deepEqual([ev[2].code, ev[2].initiator, ev[2].willReconnect], [1012, 'remote', true])
  assert.equal(ev[3].cause.kind, 'closed')
  assert.ok(ev.filter(e => e.type === 'reconnecting').slice(1).every(e => e.cause.kind === 'connect_failed'))
  const stats = await d.ctl(`/server/${srv.id}/stats`)
  assert.equal(stats.handshakes, 2)
  assert.ok(stats.close_codes.includes(1012), `close codes ${stats.close_codes}`)
  await c.close()
})

test('server-crash: a dropped TCP connection is a network close, then reconnect', async () => {
  const srv = await d.ctl('/server/start')
  const c = await client(srv.url)
  await c.connect()
  await c.waitFor({ type: 'open' })
  await d.ctl(`/server/${srv.id}/drop_all`)
  await c.waitFor({ type: 'open' }, { from: await c.waitFor({ type: 'close' }) })
  assert.equal(await c.summary(), 'connecting open close reconnecting connecting open')
  const ev = await scenarioEvents(c)
  assert.deepEqual([ev[2].code, ev[2].initiator, ev[2].willReconnect], [1006, 'network', true])
  assert.equal(ev[3].cause.kind, 'network')
  await c.close()
})

/** half-open and hung-server: found dead by the app-level heartbeat within interval + timeout. */
async function silentLink (url, silence, speak) {
  const c = await client(url, { ...FAST, heartbeat: HEARTBEAT })
  await c.connect()
  await c.waitFor({ type: 'open' })
  await c.waitFor({ type: 'pong' })
  const t0 = await page.evaluate(() => performance.now())
  await silence()
  const closed = await c.waitFor({ type: 'close' }, { timeoutMs: 2000 })
  await speak()
  const ev = await c.events()
  const elapsed = ev[closed].at - t0
  assert.ok(elapsed >= 200 - 20 && elapsed <= 400 + SLACK, `found dead after ${elapsed.toFixed(0)} ms`)
  assert.deepEqual([ev[closed].code, ev[closed].initiator, ev[closed].willReconnect], [1006, 'network', true])
  await c.waitFor({ type: 'open' }, { from: closed, timeoutMs: 5000 })
  assert.match(await c.summary(), /^connecting open close reconnecting (connecting error\(connect\) reconnecting )*connecting open$/)
  const reconnecting = (await scenarioEvents(c)).find(e => e.type === 'reconnecting')
  assert.equal(reconnecting.cause.kind, 'heartbeat_timeout')
  return c
}

test('half-open: a blackholed link is found dead by the app-level heartbeat within interval + timeout', async () => {
  const srv = await d.ctl('/server/start')
  const proxy = await d.ctl(`/proxy/start?target_port=${srv.port}`)
  const c = await silentLink(proxy.url,
    () => d.ctl(`/proxy/${proxy.id}/mode?mode=blackhole`),
    () => d.ctl(`/proxy/${proxy.id}/mode?mode=pass`))
  // The new link works. (The dead one is not dropped at once, as natively: a page can only ask
  // its WebSocket to close, and the browser ends the TCP connection on its own schedule.)
  await c.send('after')
  await c.waitFor({ type: 'message', data: 'after' })
  await c.close()
})

test('hung-server: a server that stops answering is found dead by the app-level heartbeat', async () => {
  const srv = await d.ctl('/server/start')
  const c = await silentLink(srv.url,
    () => d.ctl(`/server/${srv.id}/pings?answer=0`),
    () => d.ctl(`/server/${srv.id}/pings?answer=1`))
  await c.close()
})

test('reset: a reset link is a network close, then reconnect', async () => {
  const srv = await d.ctl('/server/start')
  const proxy = await d.ctl(`/proxy/start?target_port=${srv.port}`)
  const c = await client(proxy.url)
  await c.connect()
  await c.waitFor({ type: 'open' })
  await d.ctl(`/proxy/${proxy.id}/mode?mode=reset`)
  const closed = await c.waitFor({ type: 'close' })
  await d.ctl(`/proxy/${proxy.id}/mode?mode=pass`)
  await c.waitFor({ type: 'open' }, { from: closed })
  assert.match(await c.summary(), /^connecting open close reconnecting (connecting error\(connect\) reconnecting )*connecting open$/)
  const ev = await scenarioEvents(c)
  assert.deepEqual([ev[2].code, ev[2].initiator, ev[2].willReconnect], [1006, 'network', true])
  assert.equal(ev[3].cause.kind, 'network')
  await c.close()
})

test('close-1013: try again later waits the backoff maximum', async () => {
  const srv = await d.ctl('/server/start')
  const c = await client(srv.url)
  await c.connect()
  await c.waitFor({ type: 'open' })
  await d.ctl(`/server/${srv.id}/close_all?code=1013&reason=later`)
  await c.waitFor({ type: 'open' }, { from: await c.waitFor({ type: 'close' }) })
  assert.equal(await c.summary(), 'connecting open close reconnecting connecting open')
  const ev = await scenarioEvents(c)
  assert.deepEqual([ev[2].code, ev[2].initiator, ev[2].willReconnect], [1013, 'remote', true])
  assert.deepEqual([ev[3].delayMs, ev[3].cause.kind], [200, 'closed'])
  await c.close()
})

test('close-1001: going away reconnects after the first backoff step', async () => {
  const srv = await d.ctl('/server/start')
  const c = await client(srv.url)
  await c.connect()
  await c.waitFor({ type: 'open' })
  await d.ctl(`/server/${srv.id}/close_all?code=1001&reason=bye`)
  await c.waitFor({ type: 'open' }, { from: await c.waitFor({ type: 'close' }) })
  assert.equal(await c.summary(), 'connecting open close reconnecting connecting open')
  const ev = await scenarioEvents(c)
  assert.deepEqual([ev[2].code, ev[2].reason, ev[2].initiator, ev[2].willReconnect], [1001, 'bye', 'remote', true])
  assert.deepEqual([ev[3].delayMs, ev[3].cause.kind, ev[3].cause.code], [50, 'closed', 1001])
  await c.close()
})

test('close-1008: a policy violation is terminal', async () => {
  const srv = await d.ctl('/server/start')
  const c = await client(srv.url)
  await c.connect()
  await c.waitFor({ type: 'open' })
  await d.ctl(`/server/${srv.id}/close_all?code=1008&reason=policy`)
  await c.waitFor({ type: 'failed' })
  assert.equal(await c.summary(), 'connecting open close failed')
  const ev = await scenarioEvents(c)
  assert.deepEqual([ev[2].code, ev[2].initiator, ev[2].willReconnect], [1008, 'remote', false])
  assert.deepEqual([ev[3].reason.kind, ev[3].reason.code, ev[3].unsent], ['closed', 1008, []])
  assert.equal(await c.run('(c) => c.state'), 'failed')
  // No further handshake: after the failure nothing is scheduled to run. Wait on the server for
  // a second connection that must not come.
  assert.deepEqual(await d.ctl(`/server/${srv.id}/wait_connections?n=1&timeout_ms=300`), { ok: false })
  assert.equal((await d.ctl(`/server/${srv.id}/stats`)).handshakes, 1)
  await assert.rejects(c.send('late'), e => e.code === 'ERR_FAILED' && e.className === 'ClientClosedError')
})

test('max-retries: gives up after exactly 3 refused attempts', async () => {
  const srv = await d.ctl('/server/start')
  const proxy = await d.ctl(`/proxy/start?target_port=${srv.port}`)
  await d.ctl(`/proxy/${proxy.id}/mode?mode=refuse`)
  const c = await client(proxy.url, { ...FAST, maxRetries: 3 })
  await c.connect()
  await c.waitFor({ type: 'failed' })
  assert.equal(await c.summary(), 'connecting error(connect) reconnecting connecting error(connect) reconnecting connecting error(connect) failed')
  const ev = await scenarioEvents(c)
  assert.deepEqual(ev.filter(e => e.type === 'connecting').map(e => e.attempt), [1, 2, 3])
  const failed = ev.at(-1)
  assert.deepEqual([failed.reason.kind, failed.reason.attempts, failed.reason.last.kind, failed.unsent], ['retries_exhausted', 3, 'connect_failed', []])
  assert.equal((await c.run('(c) => c.stats()')).attempts, 3)
})

test('outbox: queued while down, the greeting first, then flushed in order; close() returns what never went', async () => {
  const srv = await d.ctl('/server/start')
  await d.ctl(`/server/${srv.id}/stop`)
  const c = await client(srv.url, { ...FAST, greeting: ['greet'] })
  await c.connect()
  for (const m of ['m1', 'm2', 'm3']) assert.equal(await c.send(m), 'queued')
  await c.waitFor({ type: 'error', kind: 'connect' })
  await d.ctl(`/server/${srv.id}/restart`)
  const m3 = await c.waitFor({ type: 'message', data: 'm3' })
  await d.ctl(`/server/${srv.id}/stop`)
  await c.waitFor({ type: 'close' }, { from: m3 })
  for (const m of ['u1', 'u2']) assert.equal(await c.send(m), 'queued')
  assert.deepEqual(await c.close(1000, 'done'), ['u1', 'u2'])
  assert.match(await c.summary(), /^connecting error\(connect\) (reconnecting connecting error\(connect\) )*reconnecting connecting open message\(greet\) message\(m1\) message\(m2\) message\(m3\) close reconnecting( connecting error\(connect\) reconnecting)*( connecting error\(connect\))?$/)
  const stats = await d.ctl(`/server/${srv.id}/stats`)
  assert.deepEqual(stats.received, ['greet', 'm1', 'm2', 'm3'])
  const s = await c.run('(c) => c.stats()')
  assert.deepEqual([s.messagesOut, s.queuedMessages], [4, 0])
})

test('message-too-large: an oversized message ends the link (1009) and the client reconnects', async () => {
  const srv = await d.ctl('/server/start')
  const c = await client(srv.url, { ...FAST, maxMessageSize: 1024 })
  await c.connect()
  await c.waitFor({ type: 'open' })
  await c.send('!big 4096')
  await c.waitFor({ type: 'open' }, { from: await c.waitFor({ type: 'close' }) })
  assert.equal(await c.summary(), 'connecting open error(link) close reconnecting connecting open')
  const ev = await scenarioEvents(c)
  assert.deepEqual([ev[3].code, ev[3].initiator, ev[3].willReconnect], [1009, 'local', true])
  assert.equal(ev[4].cause.kind, 'message_too_large')
  await c.close()
})

test('accept-then-drop: the curve does not reset for links shorter than stable_after', async () => {
  const srv = await d.ctl('/server/start')
  await d.ctl(`/server/${srv.id}/close_on_open?code=4000&reason=busy`)
  const c = await client(srv.url)
  await c.connect()
  let at = 0
  for (let i = 0; i < 4; i++) at = await c.waitFor({ type: 'reconnecting' }, { from: at + 1 })
  await d.ctl(`/server/${srv.id}/close_on_open`)
  const ev = await scenarioEvents(c)
  const delays = ev.filter(e => e.type === 'reconnecting').slice(0, 4).map(e => e.delayMs)
  assert.deepEqual(delays, [50, 100, 200, 200])
  const all = await c.events()
  const lastReconnect = all.findLastIndex(e => e.type === 'reconnecting')
  await c.waitFor({ type: 'open' }, { from: lastReconnect })
  assert.match(await c.summary(), /^(connecting open close reconnecting )+connecting open/)
  await c.close()
})

test('offline and online: the window events call networkChanged() (a waiting client tries at once)', async () => {
  const srv = await d.ctl('/server/start')
  await d.ctl(`/server/${srv.id}/stop`)
  // A long backoff: only a network change explains an attempt within a second.
  const c = await client(srv.url, { ...FAST, backoff: { initialMs: 30000, maxMs: 30000, jitter: 0 } })
  await c.connect()
  const waiting = await c.waitFor({ type: 'reconnecting' })
  await d.ctl(`/server/${srv.id}/restart`)
  // `offline`: a waiting client tries at once (and fails: the page is offline).
  await b.context.setOffline(true)
  const offlineTry = await c.waitFor({ type: 'error', kind: 'connect' }, { from: waiting, timeoutMs: 2000 })
  const retry = await c.waitFor({ type: 'reconnecting' }, { from: offlineTry })
  // `online`: it tries at once again, and opens.
  await b.context.setOffline(false)
  await c.waitFor({ type: 'open' }, { from: retry, timeoutMs: 2000 })
  await c.close()
})

test('a page shown again probes its link at once: a dead link is found within the probe, not the heartbeat interval', async () => {
  const srv = await d.ctl('/server/start')
  const proxy = await d.ctl(`/proxy/start?target_port=${srv.port}`)
  // A heartbeat far away: only the probe can find the link dead within 2 s.
  const hb = { intervalMs: 60000, timeoutMs: 1000, appPing: { payload: 'hb', pong: { exact: 'hb' } } }
  const c = await client(proxy.url, { ...FAST, heartbeat: hb })
  await c.connect()
  await c.waitFor({ type: 'open' })
  await d.ctl(`/proxy/${proxy.id}/mode?mode=blackhole`)
  await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')))
  const closed = await c.waitFor({ type: 'close' }, { timeoutMs: 2500 })
  await d.ctl(`/proxy/${proxy.id}/mode?mode=pass`)
  const ev = await c.events()
  assert.equal(ev[closed].code, 1006)
  const reconnecting = ev.slice(closed).find(e => e.type === 'reconnecting')
  assert.equal(reconnecting.cause.kind, 'network_changed')
  await c.waitFor({ type: 'open' }, { from: closed })
  await c.close()
})

test('URL provider: asked before every attempt, its token never shown', async () => {
  const srv = await d.ctl('/server/start')
  const url = `${srv.url}?token=s3cret`
  const c = await client(undefined, FAST, { urls: [url] })
  assert.equal(await c.run('(c) => c.url.includes("s3cret")'), false)
  await c.connect()
  await c.waitFor({ type: 'open' })
  await d.ctl(`/server/${srv.id}/drop_all`)
  await c.waitFor({ type: 'open' }, { from: await c.waitFor({ type: 'close' }) })
  const located = await page.evaluate(() => window.t.located)
  // The link was shorter than stable_after: the curve did not reset, the second is attempt 2.
  assert.deepEqual(located.slice(-2).map(l => [l.attempt, l.afterUnauthorized]), [[1, false], [2, false]])
  const history = JSON.stringify(await c.run('(c) => c.history()'))
  assert.ok(!history.includes('s3cret'), history)
  await c.close()
})

test('URL provider that throws: that attempt fails (url_provider), the next asks again', async () => {
  const srv = await d.ctl('/server/start')
  const c = await client(undefined, FAST, { urls: ['throw', srv.url] })
  await c.connect()
  await c.waitFor({ type: 'open' })
  assert.equal(await c.summary(), 'connecting error(connect) reconnecting connecting open')
  const ev = await scenarioEvents(c)
  assert.equal(ev[2].cause.kind, 'url_provider')
  assert.match(ev[2].cause.message, /token service down/)
  await c.close()
})

test('reconnectTo: the link closes with 1000 and the client opens at the new URL at once', async () => {
  const a = await d.ctl('/server/start')
  const b2 = await d.ctl('/server/start')
  const c = await client(a.url, { ...FAST, backoff: { initialMs: 30000, maxMs: 30000, jitter: 0 } })
  await c.connect()
  await c.waitFor({ type: 'open' })
  await c.call('reconnectTo', b2.url)
  const closed = await c.waitFor({ type: 'close' })
  await c.waitFor({ type: 'open' }, { from: closed, timeoutMs: 2000 })
  const ev = await scenarioEvents(c)
  assert.deepEqual([ev[2].code, ev[2].initiator], [1000, 'local'])
  assert.equal(await c.run('(c) => c.url'), b2.url)
  assert.equal((await d.ctl(`/server/${b2.id}/stats`)).handshakes, 1)
  assert.deepEqual((await d.ctl(`/server/${a.id}/stats`)).close_codes, [1000])
  await c.close()
})

test('subprotocols: the browser refuses an upgrade that selects none of those offered (a connect failure, retried)', async () => {
  const srv = await d.ctl('/server/start?protocols=chat')
  const c = await client(srv.url, { ...FAST, protocols: ['v9'] })
  await c.connect()
  const first = await c.waitFor({ type: 'error', kind: 'connect' })
  await c.waitFor({ type: 'error', kind: 'connect' }, { from: first + 1 })
  assert.match(await c.summary(), /^connecting error\(connect\) reconnecting connecting error\(connect\)/)
  // The server completed both upgrades: it is the browser that gave up on them.
  assert.ok((await d.ctl(`/server/${srv.id}/stats`)).handshakes >= 2)
  await c.close()
})

test('pause, resume, reconnectNow, stats and history', async () => {
  const srv = await d.ctl('/server/start')
  const c = await client(srv.url, { ...FAST, backoff: { initialMs: 30000, maxMs: 30000, jitter: 0 } })
  await c.connect()
  await c.waitFor({ type: 'open' })
  await c.call('pause')
  await c.waitFor({ type: 'state', state: 'paused' })
  assert.equal(await c.send('while-paused'), 'queued')
  await c.call('resume')
  const open2 = await c.waitFor({ type: 'open' }, { from: 3 })
  await c.waitFor({ type: 'message', data: 'while-paused' }, { from: open2 })
  await d.ctl(`/server/${srv.id}/drop_all`)
  const waiting = await c.waitFor({ type: 'reconnecting' }, { from: open2 })
  await c.call('reconnectNow')
  await c.waitFor({ type: 'open' }, { from: waiting, timeoutMs: 2000 })
  const s = await c.run('(c) => c.stats()')
  assert.deepEqual([s.opens, s.attempts, s.messagesIn, s.messagesOut], [3, 3, 1, 1])
  const states = (await c.run('(c) => c.history()')).map(h => h.to).join(' ')
  assert.match(states, /^connecting open (closing )?paused connecting open waiting connecting open$/)
  await c.close()
})

test('bufferedAmount backpressure: beyond 256 KiB in the browser buffer, messages wait in the outbox, and all arrive in order', async () => {
  const srv = await d.ctl('/server/start')
  const proxy = await d.ctl(`/proxy/start?target_port=${srv.port}`)
  await d.ctl(`/proxy/${proxy.id}/mode?mode=throttle&rate=4000000`)
  const c = await client(proxy.url, { ...FAST, outbox: { maxBytes: 4 << 20 } })
  await c.connect()
  await c.waitFor({ type: 'open' })
  const queued = await c.run(`(c) => {
    const big = 'x'.repeat(64 * 1024)
    for (let i = 0; i < 40; i++) c.send(i + ':' + big)
    return c.stats().queuedMessages
  }`)
  // 40 × 64 KiB handed over at once: about 4 are in the browser's buffer, the rest wait.
  assert.ok(queued >= 30 && queued <= 37, `queued right after the sends: ${queued}`)
  assert.deepEqual(await d.ctl(`/server/${srv.id}/wait_received?n=40&timeout_ms=20000`), { ok: true })
  const received = (await d.ctl(`/server/${srv.id}/stats`)).received
  assert.deepEqual(received.map(m => Number(m.split(':')[0])), [...Array(40).keys()])
  // Counted as written once the browser's buffer drained past each one's last byte.
  await page.waitForFunction((id) => window.t.run(id, '(c) => c.stats().messagesOut') === 40, c.id, { timeout: 5000 })
  assert.equal((await c.run('(c) => c.stats()')).queuedMessages, 0)
  await c.close()
})

test('late listeners: a message waits for a message listener, and so does every event after it', async () => {
  const srv = await d.ctl('/server/start')
  await page.evaluate(async (url) => {
    window.t.bare('late', url, { heartbeat: false })
    const c = window.t.run('late', '(c) => c')
    c.connect()
    await new Promise(resolve => c.once('open', resolve))
    c.send('early')
  }, srv.url)
  // The echo has arrived in the page (counted) but nobody listens yet.
  await page.waitForFunction(() => window.t.run('late', '(c) => c.stats().messagesIn') === 1, null, { timeout: 5000 })
  await d.ctl(`/server/${srv.id}/close_all?code=4001&reason=after`)
  await page.waitForFunction(() => window.t.run('late', '(c) => c.stats().lastCloseCode') === 4001, null, { timeout: 5000 })
  const seen = await page.evaluate(async () => {
    const c = window.t.run('late', '(c) => c')
    const seen = []
    c.on('close', ({ code }) => seen.push(`close ${code}`))
    await new Promise(resolve => {
      c.on('message', (data) => { seen.push(`message ${data}`); queueMicrotask(resolve) })
    })
    await c.close()
    return seen
  })
  assert.deepEqual(seen, ['message early', 'close 4001'])
})

test('bad options fail at build time with a typed error', async () => {
  const bad = await page.evaluate(async () => {
    const { InvalidArgumentError } = await import('wstether').catch(() => ({}))
    const out = []
    for (const [url, opts] of [['http://x/', {}], ['ws://h/', { heartbeat: { intervalMs: 1000 } }], ['ws://h/', { headers: { a: 'b' } }], ['ws://h/', { backoff: { factor: 0.5 } }]]) {
      try { window.t.create('bad', url, opts) } catch (e) { out.push([e.constructor.name, e.code, InvalidArgumentError === undefined || e instanceof InvalidArgumentError]) }
    }
    return out
  })
  assert.deepEqual(bad.map(b => b[1]), ['ERR_INVALID_SCHEME', 'ERR_INVALID_OPTION', 'ERR_INVALID_OPTION', 'ERR_INVALID_OPTION'])
  assert.ok(bad.every(b => b[0] === 'InvalidArgumentError'), JSON.stringify(bad))
  assert.deepEqual(b.errors, [])
})
