// A typed example, checked in CI with `tsc --strict` (examples/tsconfig.json).
// Run it after compiling: `node chat.js wss://host/path`.
import { Client, ConnectionError, QueueFullError, type ClientEvent, type Data } from 'wstether'

async function token (): Promise<string> {
  return 'secret-token'
}

export async function main (url: string): Promise<Data[]> {
  const client = new Client(url, {
    protocols: ['chat.v1'],
    headers: { 'X-Client': 'example' },
    auth: async (attempt, { afterUnauthorized }) => {
      if (afterUnauthorized) console.log(`attempt ${attempt}: token was rejected, fetching a new one`)
      return { Authorization: `Bearer ${await token()}` }
    },
    backoff: { initialMs: 1000, maxMs: 10000, factor: 2, jitter: 0.5 },
    maxRetries: 20,
    heartbeat: { intervalMs: 30000, timeoutMs: 10000 },
    outbox: { maxMessages: 1000, maxBytes: 1 << 20 },
    greeting: ['{"op":"subscribe","topic":"news"}'],
    connectTimeoutMs: 10000
  })

  client.on('open', ({ attempt, protocol }) => console.log(`open after ${attempt} attempt(s), protocol ${protocol ?? '-'}`))
  client.on('message', (data: string | Buffer) => {
    console.log(typeof data === 'string' ? `text: ${data}` : `binary: ${data.length} bytes`)
  })
  client.on('close', ({ code, reason, initiator, willReconnect }) =>
    console.log(`closed ${code} ${reason} by ${initiator}; reconnect: ${willReconnect}`))
  client.on('reconnecting', ({ attempt, delayMs, cause }) =>
    console.log(`attempt ${attempt} in ${delayMs} ms (${cause.kind}: ${cause.message})`))
  client.on('error', (err: ConnectionError) => console.log(`${err.code}: ${err.message}`))
  client.on('failed', ({ reason, unsent }) => console.log(`gave up: ${reason.message}; ${unsent.length} unsent`))
  client.on('state', (state) => console.log(`state ${state}`))

  client.connect()
  try {
    client.send('hi')
  } catch (e) {
    if (e instanceof QueueFullError) console.log('outbox full, try later')
    else throw e
  }

  let seen = 0
  for await (const event of client.events()) {
    const ev: ClientEvent = event
    if (ev.type === 'message' && ++seen === 3) break
    if (ev.type === 'failed') break
  }
  return await client.close(1000, 'bye')
}

if (require.main === module) {
  main(process.argv[2] ?? 'ws://127.0.0.1:8080/').then(
    (unsent) => console.log(`done; ${unsent.length} unsent`),
    (e: unknown) => { console.error(e); process.exitCode = 1 }
  )
}
