// The ESM entry's types: the same API through `import`.
import { Client, InvalidArgumentError } from 'wstether'

const client: Client = new Client('ws://127.0.0.1:1/', { heartbeat: false, handshakeBudget: false })
client.on('message', (data) => { const d: string | Buffer = data; void d })
try {
  // @ts-expect-error: the url must be a string
  void new Client(42)
} catch (e) {
  if (!(e instanceof InvalidArgumentError)) throw e
}
export const unsent: Promise<Array<string | Buffer>> = client.close()
