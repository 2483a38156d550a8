import { Client } from 'wstether'   // or: const { Client } = require('wstether')

async function getToken (): Promise<string> { return 'my-token' }   // your token service

const client = new Client('ws://localhost:8765', {
  headers: { 'X-Client': 'demo' },
  auth: async () => ({ Authorization: `Bearer ${await getToken()}` }),   // before every attempt
  backoff: { initialMs: 1000, maxMs: 10000, factor: 2, jitter: 0.5 },
  maxRetries: 20,
  heartbeat: { intervalMs: 30000, timeoutMs: 10000 },
  greeting: ['{"op":"subscribe","topic":"news"}'],   // sent first on every open
})

client.on('open', ({ attempt, protocol }) => console.log('open', attempt, protocol))
client.on('message', (data: string | Buffer) => console.log('message', data))
client.on('close', ({ code, reason, initiator, willReconnect }) => console.log('close', code, reason))
client.on('reconnecting', ({ attempt, delayMs, cause }) => console.log(`retry in ${delayMs} ms: ${cause.message}`))
client.on('error', (err) => console.log(err.code, err.message))      // still trying
client.on('failed', ({ reason, unsent }) => console.log('gave up:', reason.message))

client.connect()
client.send('hi')                       // 'sent' or 'queued'; never blocks, never drops silently
for await (const event of client.events()) {
  if (event.type === 'message' && event.data === 'hi') { console.log('got', event.data); break }
}
const unsent = await client.close()     // messages accepted but never written
console.log(client, unsent)             // Client { url: 'ws://localhost:8765/', state: 'closed' } []
