// The public `Client`: an EventEmitter over the native client.
//
// Delivery rules (see README, "When events are delivered"):
// 1. Nothing is delivered before `connect()`, and never synchronously inside a method call.
// 2. A message is delivered only when someone consumes messages: a `message` listener or an
//    `events()` iterator. Until then it waits, and so does every event after it (order is kept);
//    the core's bounded buffer then slows the socket, so nothing is lost and memory stays bounded.
// 3. After `close()` is called, messages nobody consumes are dropped instead of waiting.
// 4. A listener that throws (or returns a rejected promise) follows the core's rule (tests/README.md,
//    `callback-error`): a process warning, then one `error` event (code `ERR_CALLBACK`) right after
//    the event's other listeners ran (a rejection: when it rejects); a listener that throws while
//    handling an `error` event only warns. The client and later events carry on.

import { EventEmitter } from 'node:events'
import { inspect } from 'node:util'

import { ConnectionError, argumentError, errorFromCode, rethrow, type ErrorKind } from './errors'
import type { ClientStats, SendStatus, Transition } from './common'
import { EventIterator, ITERATOR_HIGH_WATER, type ClientEvent, type ClientEventMap, type Cause, type State } from './events'
import { native, type NativeClient } from './native'
import { flattenHeaders, toData, toNativeOptions, type ClientOptions, type Data, type UrlProvider } from './options'

export type { ClientStats, SendStatus, Transition } from './common'

type Listener<K extends keyof ClientEventMap> = (...args: ClientEventMap[K]) => void
type NativeEvent = Record<string, unknown> & { type: string }

const EMPTY: unknown[] = []
/** Where a client with a `url` function points until the function's first answer. */
const PROVIDED_URL = 'ws://url-provider.invalid/'

function isMessage (item: unknown): item is Data {
  return typeof item === 'string' || item instanceof Uint8Array
}

/** A thrown value as JS prints it (`Error: boom`), never throwing itself. */
function describe (e: unknown): string {
  try { return String(e) } catch { return 'an unprintable exception' }
}

function messageOf (e: unknown): string {
  if (e instanceof Error) return e.message
  try { return String(e) } catch { return 'unprintable exception' }
}

/**
 * A WebSocket client that stays connected: it reconnects with backoff, detects dead links with
 * a heartbeat, refreshes credentials and queues messages while disconnected.
 *
 * ```ts
 * const client = new Client('wss://example.com/ws', { heartbeat: { intervalMs: 30000, timeoutMs: 10000 } })
 * client.on('message', (data) => console.log(data))
 * client.connect()
 * client.send('hi')
 * const unsent = await client.close()
 * ```
 */
export class Client extends EventEmitter {
  private readonly native: NativeClient
  private started = false
  private closeCalled = false
  private terminal = false
  private batch: unknown[] = EMPTY
  private pos = 0
  private readonly heldBatches: unknown[][] = []
  private drainScheduled = false
  private readonly iterators = new Set<EventIterator<ClientEvent>>()
  private terminalReached!: () => void
  private readonly terminalDispatched = new Promise<void>(resolve => { this.terminalReached = resolve })

  /**
   * Validate the URL and options (throws `InvalidArgumentError`) and build an idle client; call
   * `connect()`. `url` may be a function (may be async) called before every attempt for that
   * attempt's URL; one that throws fails that attempt (cause kind `url_provider`).
   */
  constructor (url: string | UrlProvider, options?: ClientOptions) {
    super()
    if (typeof url !== 'string' && typeof url !== 'function') throw argumentError('url', 'a string or a function', url)
    const urlFn = typeof url === 'function' ? url : undefined
    const urlBridge = urlFn === undefined
      ? undefined
      : async (attempt: number, afterUnauthorized: boolean): Promise<{ url?: string, error?: string }> => {
        try {
          const u = await urlFn(attempt, { afterUnauthorized })
          if (typeof u !== 'string') return { error: 'url() must return a string' }
          return { url: u }
        } catch (e) {
          return { error: messageOf(e) }
        }
      }
    const nativeOptions = toNativeOptions(options)
    const auth = options?.auth
    const authBridge = auth === undefined
      ? undefined
      : async (attempt: number, afterUnauthorized: boolean): Promise<{ headers?: string[], error?: string }> => {
        try {
          return { headers: flattenHeaders('auth() result', await auth(attempt, { afterUnauthorized })) }
        } catch (e) {
          return { error: messageOf(e) }
        }
      }
    const greeting = options?.greeting
    const greetingBridge = typeof greeting !== 'function'
      ? undefined
      : async (): Promise<{ messages?: Data[], error?: string }> => {
        try {
          const messages = await greeting()
          if (!Array.isArray(messages)) return { error: 'greeting() must return an array of strings or Buffers' }
          return { messages: messages.map((m, i) => toData(`greeting()[${i}]`, m)) }
        } catch (e) {
          return { error: messageOf(e) }
        }
      }
    try {
      this.native = new native.NativeClient(typeof url === 'string' ? url : PROVIDED_URL, nativeOptions, authBridge, greetingBridge, urlBridge)
    } catch (e) {
      rethrow(e)
    }
    this.on('newListener', (name: string | symbol) => {
      if (name === 'message') this.scheduleDrain()
    })
  }

  /** The URL given to the constructor, with its password and token-like query values redacted. */
  get url (): string { return this.native.url }

  /** The current state. */
  get state (): State { return this.native.state as State }

  /** `console.log(client)` / `util.inspect(client)`: the redacted URL and the state, never a secret. */
  [inspect.custom] (): string { return `Client { url: ${inspect(this.url)}, state: ${inspect(this.state)} }` }

  /** Start connecting (and delivering events). Does nothing while connecting or open. */
  connect (): this {
    try {
      if (!this.started) {
        // A start that throws leaves the client unstarted: the next connect() starts again.
        this.native.start(this.onBatch)
        this.started = true
      }
      this.native.connect()
    } catch (e) {
      rethrow(e)
    }
    return this
  }

  /**
   * Send a message (string: text; Buffer/TypedArray/ArrayBuffer: binary). Never blocks: returns
   * `'sent'` if the link is open, `'queued'` if it waits for the next open; throws
   * `QueueFullError`, `MessageTooLargeError` or `ClientClosedError` — nothing is dropped silently.
   */
  send (data: Data | ArrayBufferView | ArrayBuffer): SendStatus {
    let sent: boolean
    try {
      sent = typeof data === 'string' ? this.native.sendText(data) : this.native.sendBinary(toData('data', data) as Buffer)
    } catch (e) {
      rethrow(e)
    }
    return sent ? 'sent' : 'queued'
  }

  /**
   * Close the link (code 1000 or 3000–4999, reason ≤ 123 bytes) and stop for good. Resolves, once
   * the final events have been delivered, to every accepted message that was never written.
   * Idempotent: a second call resolves to `[]`.
   */
  async close (code = 1000, reason = ''): Promise<Data[]> {
    if (typeof code !== 'number' || !Number.isInteger(code)) throw argumentError('code', 'an integer', code)
    if (typeof reason !== 'string') throw argumentError('reason', 'a string', reason)
    if (code < 0 || code > 0xffff) throw errorFromCode('ERR_INVALID_CLOSE_CODE', `invalid close code ${code}: use 1000 or 3000-4999`)
    const outcome = await this.native.close(code, reason)
    if ('code' in outcome) throw errorFromCode(outcome.code, outcome.message)
    if (!this.closeCalled) {
      // From now on, messages nobody listens to no longer hold back the final events.
      this.closeCalled = true
      this.scheduleDrain()
    }
    if (this.started) await this.terminalDispatched
    return outcome.unsent
  }

  /** Close the link and stay disconnected until `resume()`; `send()` keeps queueing. */
  pause (): void { this.command(() => this.native.pause()) }
  /** Leave `paused` and connect at once. */
  resume (): void { this.command(() => this.native.resume()) }
  /** Skip the current backoff delay (the handshake budget still applies). */
  reconnectNow (): void { this.command(() => this.native.reconnectNow()) }

  /**
   * Move to `url` at once (a server-directed reconnect, as Twitch and Discord send): the link
   * closes with 1000 and the client connects to `url` without a backoff delay. `url` is the
   * client's URL from then on (with a `url` function: the next attempt only).
   */
  reconnectTo (url: string): void {
    if (typeof url !== 'string') throw argumentError('url', 'a string', url)
    this.command(() => this.native.reconnectTo(url))
  }
  /** The network changed (e.g. Wi-Fi switch): verify the open link now, or retry now if waiting. */
  networkChanged (): void { this.command(() => this.native.networkChanged()) }

  /** Replace the greeting: the messages sent first on every later open (e.g. current subscriptions). */
  setGreeting (messages: Array<Data | ArrayBufferView | ArrayBuffer>): void {
    if (!Array.isArray(messages)) throw argumentError('messages', 'an array', messages)
    this.native.setGreeting(messages.map((m, i) => toData(`messages[${i}]`, m)))
  }

  /** A snapshot of the counters. */
  stats (): ClientStats { return this.native.stats() as ClientStats }

  /** The last 64 state changes, oldest first, with their causes (a flight recorder for bug reports). */
  history (): Transition[] { return this.native.history() as Transition[] }

  /**
   * Every event, in order, as an async iterator (`for await (const ev of client.events())`). It
   * ends after the terminal event (`failed`, or the `closed` state after `close()`). Several
   * iterators may run at once; each sees every event from the moment it was created.
   */
  events (): AsyncIterableIterator<ClientEvent> {
    const it = new EventIterator<ClientEvent>(i => { this.iterators.delete(i) }, () => { this.scheduleDrain() })
    if (this.terminal) it.end()
    else {
      this.iterators.add(it)
      this.scheduleDrain()
    }
    return it
  }

  /** Same as `events()`. */
  [Symbol.asyncIterator] (): AsyncIterableIterator<ClientEvent> { return this.events() }

  // ---- typed EventEmitter surface ---------------------------------------------------------

  override on<K extends keyof ClientEventMap>(event: K, listener: Listener<K>): this
  override on (event: string | symbol, listener: (...args: any[]) => void): this
  override on (event: string | symbol, listener: (...args: any[]) => void): this { return super.on(event, listener) }

  override once<K extends keyof ClientEventMap>(event: K, listener: Listener<K>): this
  override once (event: string | symbol, listener: (...args: any[]) => void): this
  override once (event: string | symbol, listener: (...args: any[]) => void): this { return super.once(event, listener) }

  override off<K extends keyof ClientEventMap>(event: K, listener: Listener<K>): this
  override off (event: string | symbol, listener: (...args: any[]) => void): this
  override off (event: string | symbol, listener: (...args: any[]) => void): this { return super.off(event, listener) }

  override addListener<K extends keyof ClientEventMap>(event: K, listener: Listener<K>): this
  override addListener (event: string | symbol, listener: (...args: any[]) => void): this
  override addListener (event: string | symbol, listener: (...args: any[]) => void): this { return super.addListener(event, listener) }

  // ---- delivery ---------------------------------------------------------------------------

  private command (f: () => void): void {
    try { f() } catch (e) { rethrow(e) }
  }

  // Called by the native pump with one batch; `false` means "held: resumeDelivery() will follow
  // once it is consumed". A batch arriving while an earlier one is held waits behind it.
  private readonly onBatch = (batch: unknown[]): boolean => {
    if (this.batch !== EMPTY) {
      this.heldBatches.push(batch)
      return false
    }
    this.batch = batch
    this.pos = 0
    return this.drain()
  }

  private hasMessageConsumer (): boolean {
    return this.closeCalled || this.iterators.size > 0 || this.listenerCount('message') > 0
  }

  private iteratorsFull (): boolean {
    for (const it of this.iterators) if (it.size >= ITERATOR_HIGH_WATER) return true
    return false
  }

  // Dispatch the current batch from `pos`; false when it must wait for a consumer.
  private drain (): boolean {
    const batch = this.batch
    while (this.pos < batch.length) {
      const item = batch[this.pos]
      if (this.iterators.size > 0 && this.iteratorsFull()) return false
      if (isMessage(item)) {
        if (!this.hasMessageConsumer()) return false
        this.pos++
        this.deliverMessage(item)
      } else {
        this.pos++
        this.deliverEvent(item as NativeEvent)
      }
    }
    this.batch = EMPTY
    return true
  }

  // Resume a held batch on a later tick (never inside `on()` or `events()`).
  private scheduleDrain (): void {
    if (this.drainScheduled || this.batch === EMPTY) return
    this.drainScheduled = true
    setImmediate(() => {
      this.drainScheduled = false
      while (this.batch !== EMPTY && this.drain()) {
        this.native.resumeDelivery()
        const next = this.heldBatches.shift()
        if (next !== undefined) {
          this.batch = next
          this.pos = 0
        }
      }
    })
  }

  private deliverMessage (data: Data): void {
    if (this.iterators.size > 0) for (const it of this.iterators) it.push({ type: 'message', data })
    this.emitSafely('message', data)
  }

  private deliverEvent (ev: NativeEvent): void {
    switch (ev.type) {
      case 'state': {
        const state = ev.state as State
        this.toIterators({ type: 'state', state })
        this.emitSafely('state', state)
        if (state === 'closed') this.finish()
        return
      }
      case 'error': {
        const error = new ConnectionError(ev.kind as ErrorKind, ev.message as string)
        this.deliverError(error)
        return
      }
      case 'failed': {
        const info = { reason: ev.reason as Cause, unsent: ev.unsent as Data[] }
        this.toIterators({ type: 'failed', ...info })
        this.emitSafely('failed', info)
        this.finish()
        return
      }
      default: {
        const { type, ...info } = ev
        this.toIterators(ev as unknown as ClientEvent)
        this.emitSafely(type, info)
      }
    }
  }

  private toIterators (ev: ClientEvent): void {
    if (this.iterators.size > 0) for (const it of this.iterators) it.push(ev)
  }

  private deliverError (error: ConnectionError): void {
    this.toIterators({ type: 'error', error })
    // Unlike a plain EventEmitter, an `error` nobody listens to is not thrown: the client is still trying.
    const listeners = this.rawListeners('error')
    for (let i = 0; i < listeners.length; i++) {
      try {
        const r: unknown = (listeners[i] as (e: ConnectionError) => unknown).call(this, error)
        if (r instanceof Promise) r.catch(e => { this.callbackFailed('error', e, true) })
      } catch (e) {
        this.callbackFailed('error', e, true)
      }
    }
  }

  private emitSafely (name: string, arg: unknown): void {
    const listeners = this.rawListeners(name)
    let reports: ConnectionError[] | undefined
    for (let i = 0; i < listeners.length; i++) {
      try {
        const r: unknown = (listeners[i] as (a: unknown) => unknown).call(this, arg)
        if (r instanceof Promise) {
          r.catch(e => {
            const report = this.callbackFailed(name, e, false)
            if (report !== undefined) this.deliverError(report)
          })
        }
      } catch (e) {
        const report = this.callbackFailed(name, e, false)
        if (report !== undefined) (reports ??= []).push(report)
      }
    }
    // Reports follow the event whose listener threw, after its other listeners.
    if (reports !== undefined) for (const report of reports) this.deliverError(report)
  }

  // The core's rule: warn, and return the `error` event to deliver unless a listener of an
  // `error` event threw (reporting that as another `error` could loop).
  private callbackFailed (name: string, e: unknown, handlingError: boolean): ConnectionError | undefined {
    const failure = native.callbackFailure(`'${name}' listener`, describe(e), handlingError)
    process.emitWarning(`wstether: ${failure.message}`, 'WstetherWarning')
    return failure.report === undefined || failure.report === null
      ? undefined
      : new ConnectionError('callback', failure.report, { cause: e })
  }

  private finish (): void {
    this.terminal = true
    for (const it of this.iterators) it.end()
    this.iterators.clear()
    this.terminalReached()
  }
}
