import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Client } from 'wstether'
import { startTestd, fastOptions, Recorder } from './testkit.mjs'

test('echo scenario', async (t) => {
  const d = await startTestd()
  t.after(() => d.stop())
  const srv = await d.ctl('/server/start?protocols=chat')
  const client = new Client(srv.url, fastOptions({ protocols: ['v0', 'chat'] }))
  const rec = new Recorder(client)
  client.connect()
  await rec.waitType('open')
  client.send('hello')
  client.send(Buffer.from([1, 2, 3]))
  await rec.waitFor(e => e.type === 'message' && Buffer.isBuffer(e.data))
  const unsent = await client.close(1000, 'bye')
  assert.deepEqual(unsent, [])
  assert.equal(rec.summary(), 'connecting open message(hello) message(bin) close')
})
