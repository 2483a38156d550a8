// The test page: imports wstether as an app would (Vite resolves the package's `browser`
// condition) and gives the Node test runner a small handle on it, `window.t`: make clients,
// record their events, wait for one with a deadline. Functions (URL and greeting providers)
// cannot cross from Node, so the page builds them from plain data.
import { Client } from 'wstether'

const clients = new Map()

class Recorder {
  constructor (client) {
    this.events = []
    this.waiters = []
    for (const name of ['connecting', 'open', 'message', 'close', 'reconnecting', 'error', 'failed', 'pong', 'state']) {
      client.on(name, (arg) => {
        const ev = name === 'message'
          ? { type: 'message', data: typeof arg === 'string' ? arg : `bin:${Array.from(arg).join(',')}` }
          : name === 'error'
            ? { type: 'error', kind: arg.kind, code: arg.code, message: arg.message }
            : name === 'state' ? { type: 'state', state: arg } : { type: name, ...arg }
        ev.at = performance.now()
        this.events.push(ev)
        for (const w of [...this.waiters]) w()
      })
    }
  }

  // Scenario sequences leave out `state` and `pong`, as every language's suite does.
  summary () {
    return this.events.filter(e => e.type !== 'state' && e.type !== 'pong')
      .map(e => e.type === 'error' ? `error(${e.kind})` : e.type === 'message' ? `message(${e.data.slice(0, 20)})` : e.type).join(' ')
  }

  waitFor (match, from, timeoutMs) {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < this.events.length; i++) {
          const e = this.events[i]
          if (Object.entries(match).every(([k, v]) => e[k] === v)) {
            cleanup()
            resolve(i)
            return true
          }
        }
        return false
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${JSON.stringify(match)}; got: ${this.summary()}`))
      }, timeoutMs)
      const cleanup = () => {
        clearTimeout(timer)
        this.waiters = this.waiters.filter(w => w !== check)
      }
      if (!check()) this.waiters.push(check)
    })
  }
}

window.t = {
  /** Make client `id`; `extra.urls`: a URL provider answering these in turn (the last repeats; 'throw' throws). */
  create (id, url, options = {}, extra = {}) {
    let target = url
    if (extra.urls) {
      const urls = extra.urls
      let n = 0
      target = async (attempt, info) => {
        window.t.located = [...(window.t.located ?? []), { attempt, ...info }]
        const url = urls[Math.min(n++, urls.length - 1)]
        if (url === 'throw') throw new Error('token service down')
        return url
      }
    }
    if (extra.greetingFrom) {
      options = { ...options, greeting: async () => [`${extra.greetingFrom}:${Date.now()}`] }
    }
    const client = new Client(target, options)
    clients.set(id, { client, rec: new Recorder(client) })
    return client.url
  },
  /** Call a method of client `id` (its result, or the error's code and message). */
  async call (id, method, ...args) {
    const { client } = clients.get(id)
    try {
      const r = await client[method](...args)
      return { ok: r === undefined ? null : (r === client ? 'self' : r) }
    } catch (e) {
      return { error: e.code ?? e.name, message: e.message, name: e.constructor.name }
    }
  },
  /** Client `id` given to `f` (a function's source), for what `call` cannot express. */
  run (id, source) {
    const { client } = clients.get(id)
    return (0, eval)(`(${source})`)(client)
  },
  /** A client without listeners (for the late-listener rule); `t.run(id, …)` reaches it. */
  bare (id, url, options = {}) {
    const client = new Client(url, options)
    clients.set(id, { client, rec: null })
    return client.url
  },
  events (id) { return clients.get(id).rec.events },
  summary (id) { return clients.get(id).rec.summary() },
  waitFor (id, match, from = 0, timeoutMs = 5000) { return clients.get(id).rec.waitFor(match, from, timeoutMs) },
  async closeAll () {
    for (const { client } of clients.values()) await client.close().catch(() => {})
    clients.clear()
  }
}
document.getElementById('status').textContent = 'ready'
