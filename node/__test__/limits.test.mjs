// Every numeric option is refused at construction when out of range, with a typed error naming
// the limit (issue 12, items 2 and 5); inspecting a client never shows a secret (item 4).

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { inspect } from 'node:util'
import { Client, InvalidArgumentError } from 'wstether'

const URL = 'ws://127.0.0.1:9/'

function refused (options, option, limit) {
  assert.throws(() => new Client(URL, options), (e) => {
    assert.ok(e instanceof InvalidArgumentError, `${e.name}: ${e.message}`)
    assert.equal(e.code, 'ERR_INVALID_OPTION')
    assert.equal(e.message, `invalid option ${option}: must be at most ${limit}`)
    return true
  }, JSON.stringify(options))
}

const DAYS = '365 days'

test('huge durations are refused at construction, naming the limit', () => {
  for (const ms of [1e22, 1e300, Infinity, 365 * 86400e3 + 1]) {
    refused({ heartbeat: { intervalMs: ms, timeoutMs: ms } }, 'heartbeat.intervalMs', DAYS)
    refused({ heartbeat: { timeoutMs: ms } }, 'heartbeat.timeoutMs', DAYS)
    refused({ closeTimeoutMs: ms }, 'closeTimeoutMs', DAYS)
    refused({ connectTimeoutMs: ms }, 'connectTimeoutMs', DAYS)
    refused({ maxElapsedMs: ms }, 'maxElapsedMs', DAYS)
    refused({ backoff: { initialMs: ms, maxMs: ms } }, 'backoff.initialMs', DAYS)
    refused({ backoff: { maxMs: ms } }, 'backoff.maxMs', DAYS)
    refused({ backoff: { stableAfterMs: ms } }, 'backoff.stableAfterMs', DAYS)
  }
})

test('huge counts and sizes are refused at construction, naming the limit', () => {
  for (const n of [1e22, 2 ** 53, Infinity]) {
    refused({ eventBuffer: n }, 'event_buffer', 1048576)
    refused({ maxMessageSize: n }, 'max_message_size', 1073741824)
    refused({ outbox: { maxMessages: n } }, 'outbox.max_messages', 16777216)
    refused({ outbox: { maxBytes: n } }, 'outbox.max_bytes', 1073741824)
    refused({ maxRetries: n }, 'max_retries', 1000000000)
    refused({ handshakeBudget: n }, 'handshake_budget', 1000000)
  }
  assert.throws(() => new Client(URL, { terminal: { closeCodes: [2 ** 32 + 1000] } }),
    (e) => e.code === 'ERR_INVALID_OPTION' && /terminal\.closeCodes/.test(e.message))
  assert.throws(() => new Client(URL, { eventBuffer: -1 }), (e) => e.code === 'ERR_INVALID_OPTION')
  assert.throws(() => new Client(URL, { maxRetries: 2.5 }), (e) => e.code === 'ERR_INVALID_OPTION')
})

test('the limits themselves are accepted', async () => {
  const longest = 365 * 86400e3
  const client = new Client(URL, {
    connectTimeoutMs: longest,
    closeTimeoutMs: longest,
    maxElapsedMs: longest,
    heartbeat: { intervalMs: longest, timeoutMs: longest },
    backoff: { initialMs: longest, maxMs: longest, stableAfterMs: longest },
    eventBuffer: 1048576,
    maxMessageSize: 1073741824,
    outbox: { maxMessages: 16777216, maxBytes: 1073741824 },
    maxRetries: 1000000000,
    handshakeBudget: 1000000
  })
  assert.deepEqual(await client.close(), [])
})

test('console.log / util.inspect show the redacted URL and the state, never a secret', async () => {
  const client = new Client('wss://bob:hunter2@example.com/ws?access_token=abc123&room=7', {
    headers: { Authorization: 'Bearer sekrit-value' }
  })
  const shown = [inspect(client), inspect(client, { showHidden: true, depth: 10 }), JSON.stringify(client), String(client.url)]
  for (const text of shown) {
    for (const secret of ['hunter2', 'abc123', 'sekrit-value']) assert.ok(!text.includes(secret), text)
  }
  assert.match(inspect(client), /^Client \{ url: 'wss:\/\/bob:%5Bredacted%5D@example\.com\/ws\?access_token=%5Bredacted%5D&room=7', state: 'idle' \}$/)
  assert.ok(client.url.includes('room=7'))
  await client.close()
})
