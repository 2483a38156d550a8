// Compiled with `tsc --strict` against the package's browser types (the `browser` condition),
// as a Vite app's TypeScript sees them (web/scripts/test.sh): the API types as documented.
import { Client, QueueFullError, type ClientEvent, type Data, type SendStatus } from 'wstether'

const client = new Client(async (attempt) => `wss://example.com/ws?attempt=${attempt}`, {
  heartbeat: { intervalMs: 30000, timeoutMs: 10000, appPing: { payload: 'ping', pong: { exact: 'pong' } } },
  greeting: async () => ['hello'],
  maxRetries: null
})
client.on('message', (data: Data) => { if (typeof data !== 'string') console.log(data.byteLength) })
client.on('close', ({ code, initiator, willReconnect }) => console.log(code, initiator, willReconnect))
client.on('reconnecting', ({ delayMs, cause }) => console.log(delayMs, cause.kind))
client.on('error', (e) => console.log(e.kind, e.code))
client.connect()
const status: SendStatus = client.send(new Uint8Array([1, 2]))
try { client.send('x') } catch (e) { if (e instanceof QueueFullError) console.log(e.code) }
async function drain (): Promise<void> {
  for await (const ev of client.events()) {
    const e: ClientEvent = ev
    if (e.type === 'failed') console.log(e.unsent.length)
  }
  const unsent: Data[] = await client.close(1000, 'bye')
  console.log(status, unsent, client.stats().messagesOut, client.history()[0]?.to)
}
void drain()
