// wstether in the browser: the npm package's `browser` entry. The same `Client` API as the Node
// entry (`on('message')`, `send`, `close()` resolving to the unsent messages, the same events
// and error classes), over the core's state machine compiled to WebAssembly (`web/`), which
// drives the browser's own WebSocket. This file is a thin layer: it checks argument types,
// runs the URL and greeting providers, and hands the core's event batches to listeners. Every
// decision (when to reconnect, when a link is dead, what to send first) is the core's.
//
// Browser differences (docs/browser.md): no handshake headers (auth goes in the URL, through a
// URL provider, or in the greeting), no protocol pings (a heartbeat is an app-level ping and
// pong), no TLS options (the browser's own trust store). `online`/`offline` events call
// `networkChanged()`; a page coming back (`visibilitychange` to visible, `resume` after
// freeze) probes its link at once.

import init, { WebClient } from '../wasm/wstether_web.js'
import {
  ClientClosedError, ConnectionError, InvalidArgumentError, MessageTooLargeError, QueueFullError, WstetherError,
  argumentError, errorFromCode, rethrow, type ErrorKind
} from './errors.js'
import type * as Common from './common.js'
import { EventIterator, type BackoffOptions, type Cause, type ClientStats, type SendStatus, type State, type Transition, type UrlProvider } from './common.js'

export { ClientClosedError, ConnectionError, InvalidArgumentError, MessageTooLargeError, QueueFullError, WstetherError }
export type { ErrorKind }

// Bundlers minify class names; errors name themselves after their class, so give the classes
// their names back.
for (const [cls, name] of [
  [WstetherError, 'WstetherError'], [InvalidArgumentError, 'InvalidArgumentError'], [MessageTooLargeError, 'MessageTooLargeError'],
  [QueueFullError, 'QueueFullError'], [ClientClosedError, 'ClientClosedError'], [ConnectionError, 'ConnectionError']
] as const) Object.defineProperty(cls, 'name', { value: name })

// The WebAssembly module is fetched and compiled once, when this module is first imported.
await init()

/** A message payload: text, or binary as bytes. */
export type Data = string | Uint8Array

export type {
  BackoffOptions, Cause, ClientStats, CloseInfo, ConnectingInfo, OpenInfo, PongInfo, ReconnectingInfo, SendStatus, State, Transition, UrlProvider
} from './common.js'

/** `failed`: terminal; `unsent` holds every accepted message that was never written. */
export type FailedInfo = Common.FailedInfo<Data>
/** Listener arguments per event name. */
export type ClientEventMap = Common.ClientEventMap<Data>
/** One event as yielded by `client.events()`. */
export type ClientEvent = Common.ClientEvent<Data>

/** Computes the greeting on every open (e.g. an auth message, then the current subscriptions). */
export type GreetingProvider = () => Array<Data | ArrayBufferView | ArrayBuffer> | Promise<Array<Data | ArrayBufferView | ArrayBuffer>>

/** Keep-alive: browsers send no protocol pings, so it needs `appPing`; any message counts as life. */
export interface HeartbeatOptions {
  /** Ping every `intervalMs` (default 30000). */
  intervalMs?: number
  /** Extra wait for any message after a ping (default 10000). */
  timeoutMs?: number
  /** The application message sent as a ping, and how to recognise its answer. */
  appPing: { payload: Data, pong: { exact: string } | { contains: string } }
}

/** The options a browser can honour; the same names and units as the Node entry. */
export interface ClientOptions {
  /** Subprotocols offered in the handshake. */
  protocols?: string[]
  /** Limit for one attempt (URL provider and opening the WebSocket), in ms (default 10000). */
  connectTimeoutMs?: number
  /** Reconnect delay curve. */
  backoff?: BackoffOptions
  /** Failed attempts since the last successful open before `failed` (default: unlimited). */
  maxRetries?: number | null
  /** Time without a link before `failed`, in ms (default: unlimited). */
  maxElapsedMs?: number | null
  /** Keep-alive with an app-level ping (default: off, as a browser cannot ping on its own). */
  heartbeat?: HeartbeatOptions | false
  /** Limits on messages waiting while disconnected (default 1000 messages, 1 MiB). */
  outbox?: { maxMessages?: number, maxBytes?: number }
  /** Handshakes per second per host for the whole page (default 50); `false` turns the guard off. */
  handshakeBudget?: number | false
  /** Messages sent first on every open (auth, resubscribe): a list, or a function (may be async). */
  greeting?: Data[] | GreetingProvider
  /** Which server close codes end in `failed` (default 1008). */
  terminal?: { closeCodes?: number[] }
  /** Largest message in either direction, bytes (default 16 MiB). */
  maxMessageSize?: number
  /** How long `close()` waits for the server's close frame, in ms (default 2000). */
  closeTimeoutMs?: number
  /** Accepted for the Node entry's sake: a browser always refuses an upgrade that selects none of `protocols` (a connect failure, retried). */
  requireProtocol?: boolean
  /** `true` only (the default): the browser offers permessage-deflate itself; `open`'s `compression` says what was agreed. */
  compression?: true
  /** Call `networkChanged()` on the window's `online`/`offline` events and probe on `visibilitychange`/`resume` (default true). */
  watchNetwork?: boolean
}

type Listener<K extends keyof ClientEventMap> = (...args: ClientEventMap[K]) => void
type AnyListener = (...args: any[]) => unknown
type Item = Data | (Record<string, unknown> & { type: string })

const KNOWN = new Set([
  'protocols', 'connectTimeoutMs', 'backoff', 'maxRetries', 'maxElapsedMs', 'heartbeat', 'outbox',
  'handshakeBudget', 'greeting', 'terminal', 'maxMessageSize', 'closeTimeoutMs', 'watchNetwork',
  'requireProtocol', 'compression'
])
// Node options a browser cannot honour: refused by name, with the reason.
const NODE_ONLY: Record<string, string> = {
  headers: 'browsers send no custom handshake headers: put a token in the URL (a URL provider) or in the greeting',
  auth: 'browsers send no custom handshake headers: pass a URL provider function as the url',
  tls: 'the browser verifies TLS with its own trust store',
  proxy: 'the browser uses its own proxy settings',
  resolve: 'the browser resolves host names itself',
  eventBuffer: 'the browser hands messages over as they arrive'
}

function messageOf (e: unknown): string {
  if (e instanceof Error) return e.message
  try { return String(e) } catch { return 'unprintable exception' }
}

function toData (name: string, v: unknown): Data {
  if (typeof v === 'string' || v instanceof Uint8Array) return v
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
  if (v instanceof ArrayBuffer) return new Uint8Array(v)
  throw argumentError(name, 'a string, Uint8Array, TypedArray or ArrayBuffer', v)
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Check option types (ranges are the core's to check) and shape them as the core reads them. */
function toCoreOptions (options: unknown): Record<string, unknown> {
  if (options === undefined) return {}
  if (!isObject(options)) throw argumentError('options', 'an object', options)
  for (const key of Object.keys(options)) {
    if (key in NODE_ONLY) throw new InvalidArgumentError('ERR_INVALID_OPTION', `option ${JSON.stringify(key)} is not available in the browser: ${NODE_ONLY[key]}`)
    if (!KNOWN.has(key)) throw new InvalidArgumentError('ERR_INVALID_OPTION', `unknown option ${JSON.stringify(key)}`)
  }
  const o = options
  const out: Record<string, unknown> = { ...o }
  for (const key of ['connectTimeoutMs', 'maxRetries', 'maxElapsedMs', 'maxMessageSize', 'closeTimeoutMs']) {
    if (o[key] !== undefined && o[key] !== null && typeof o[key] !== 'number') throw argumentError(`options.${key}`, 'a number', o[key])
  }
  if (o.protocols !== undefined && !(Array.isArray(o.protocols) && o.protocols.every(p => typeof p === 'string'))) {
    throw argumentError('options.protocols', 'an array of strings', o.protocols)
  }
  if (o.handshakeBudget === false) out.handshakeBudgetOff = true
  delete out.handshakeBudget
  if (typeof o.handshakeBudget === 'number') out.handshakeBudget = o.handshakeBudget
  else if (o.handshakeBudget !== undefined && o.handshakeBudget !== false) throw argumentError('options.handshakeBudget', 'a number or false', o.handshakeBudget)
  if (o.heartbeat !== undefined && o.heartbeat !== false) {
    if (!isObject(o.heartbeat)) throw argumentError('options.heartbeat', 'an object or false', o.heartbeat)
    const h = o.heartbeat
    const ap = h.appPing
    const beat: Record<string, unknown> = { intervalMs: h.intervalMs, timeoutMs: h.timeoutMs }
    if (isObject(ap)) {
      beat.appPingPayload = toData('options.heartbeat.appPing.payload', ap.payload)
      const pong = isObject(ap.pong) ? ap.pong : {}
      beat.appPongExact = pong.exact
      beat.appPongContains = pong.contains
    }
    out.heartbeat = beat
  } else {
    delete out.heartbeat
  }
  if (typeof o.greeting === 'function') {
    delete out.greeting
    out.greetingProvider = true
  } else if (o.greeting !== undefined) {
    if (!Array.isArray(o.greeting)) throw argumentError('options.greeting', 'an array of strings or bytes, or a function', o.greeting)
    out.greeting = o.greeting.map((m, i) => toData(`options.greeting[${i}]`, m))
  }
  if (o.compression !== undefined && o.compression !== true) {
    throw new InvalidArgumentError('ERR_INVALID_OPTION', 'option "compression" can only be true in the browser: the browser offers permessage-deflate itself')
  }
  delete out.compression
  if (o.requireProtocol !== undefined && typeof o.requireProtocol !== 'boolean') throw argumentError('options.requireProtocol', 'a boolean', o.requireProtocol)
  delete out.requireProtocol
  delete out.watchNetwork
  return out
}

/**
 * A WebSocket client that stays connected, in the browser: it reconnects with backoff, finds
 * dead links with an app-level heartbeat, queues messages while disconnected and hands back what
 * it could never send.
 *
 * ```ts
 * const client = new Client('wss://example.com/ws')
 * client.on('message', (data) => console.log(data))
 * client.connect()
 * client.send('hi')
 * const unsent = await client.close()
 * ```
 */
export class Client {
  private readonly core: WebClient
  private readonly listeners = new Map<string, AnyListener[]>()
  private readonly iterators = new Set<EventIterator<ClientEvent>>()
  private readonly pending: Item[][] = []
  private readonly closers: Array<(unsent: Data[]) => void> = []
  private readonly urlProvider?: UrlProvider
  private readonly greetingProvider?: GreetingProvider
  private readonly unwatch: () => void
  private scheduled = false
  private pos = 0
  private closeCalled = false
  private terminal = false

  /**
   * Validate the URL and options (throws `InvalidArgumentError`) and build an idle client; call
   * `connect()`. `url` may be a function (may be async) called before every attempt for that
   * attempt's URL: how a fresh token reaches the handshake in a browser.
   */
  constructor (url: string | UrlProvider, options?: ClientOptions) {
    if (typeof url !== 'string' && typeof url !== 'function') throw argumentError('url', 'a string or a function', url)
    if (typeof url === 'function') this.urlProvider = url
    if (typeof options?.greeting === 'function') this.greetingProvider = options.greeting
    const coreOptions = toCoreOptions(options)
    try {
      this.core = new WebClient(typeof url === 'string' ? url : undefined, coreOptions, this.onBatch)
    } catch (e) {
      rethrow(e)
    }
    this.unwatch = options?.watchNetwork === false ? () => {} : watchNetwork(this)
  }

  /** The URL, with its password and token-like query values redacted. */
  get url (): string { return this.core.url }

  /** The current state. */
  get state (): State { return this.core.state as State }

  /** Start connecting (and delivering events). Does nothing while connecting or open. */
  connect (): this {
    this.command(() => { this.core.connect() })
    return this
  }

  /**
   * Send a message (string: text; Uint8Array/TypedArray/ArrayBuffer: binary). Never blocks:
   * returns `'sent'` if the link is open, `'queued'` if it waits for the next open; throws
   * `QueueFullError`, `MessageTooLargeError` or `ClientClosedError` — nothing is dropped silently.
   */
  send (data: Data | ArrayBufferView | ArrayBuffer): SendStatus {
    let sent = false
    this.command(() => {
      sent = typeof data === 'string' ? this.core.sendText(data) : this.core.sendBinary(toData('data', data) as Uint8Array)
    })
    return sent ? 'sent' : 'queued'
  }

  /**
   * Close the link (code 1000 or 3000–4999, reason ≤ 123 bytes) and stop for good. Resolves, once
   * the final events have been delivered, to every accepted message that was never written.
   * Idempotent: a second call resolves to `[]`.
   */
  close (code = 1000, reason = ''): Promise<Data[]> {
    if (typeof code !== 'number' || !Number.isInteger(code)) throw argumentError('code', 'an integer', code)
    if (typeof reason !== 'string') throw argumentError('reason', 'a string', reason)
    if (code < 0 || code > 0xffff) throw errorFromCode('ERR_INVALID_CLOSE_CODE', `invalid close code ${code}: use 1000 or 3000-4999`)
    return new Promise((resolve, reject) => {
      this.closers.push(resolve)
      try {
        this.core.close(code, reason)
      } catch (e) {
        this.closers.pop()
        try { rethrow(e) } catch (err) { reject(err) }
        return
      }
      // From now on, messages nobody listens to no longer hold back the final events.
      this.closeCalled = true
      this.resumeDelivery()
    })
  }

  /** Close the link and stay disconnected until `resume()`; `send()` keeps queueing. */
  pause (): void { this.command(() => { this.core.pause() }) }
  /** Leave `paused` and connect at once. */
  resume (): void { this.command(() => { this.core.resume() }) }
  /** Skip the current backoff delay (the handshake budget still applies). */
  reconnectNow (): void { this.command(() => { this.core.reconnectNow() }) }
  /**
   * Move to `url` at once (a server-directed reconnect): the link closes with 1000 and the
   * client connects to `url` without a backoff delay. `url` is the client's URL from then on
   * (with a URL provider: the next attempt only).
   */
  reconnectTo (url: string): void {
    if (typeof url !== 'string') throw argumentError('url', 'a string', url)
    this.command(() => { this.core.reconnectTo(url) })
  }

  /** The network changed: verify the open link now (with an app-level heartbeat), or retry now if waiting. */
  networkChanged (): void { this.command(() => { this.core.networkChanged() }) }

  /** Replace the greeting: the messages sent first on every later open. */
  setGreeting (messages: Array<Data | ArrayBufferView | ArrayBuffer>): void {
    if (!Array.isArray(messages)) throw argumentError('messages', 'an array', messages)
    this.command(() => { this.core.setGreeting(messages.map((m, i) => toData(`messages[${i}]`, m))) })
  }

  /** A snapshot of the counters. */
  stats (): ClientStats { return this.core.stats() as ClientStats }

  /** The last 64 state changes, oldest first, with their causes (a flight recorder for bug reports). */
  history (): Transition[] { return this.core.history() as Transition[] }

  /** Every event, in order, as an async iterator; it ends after the terminal event. */
  events (): AsyncIterableIterator<ClientEvent> {
    // No backpressure to release in the browser: the WebSocket hands messages over as they arrive.
    const it = new EventIterator<ClientEvent>(i => { this.iterators.delete(i) }, () => {})
    if (this.terminal) it.end()
    else {
      this.iterators.add(it)
      this.resumeDelivery()
    }
    return it
  }

  /** Same as `events()`. */
  [Symbol.asyncIterator] (): AsyncIterableIterator<ClientEvent> { return this.events() }

  /** Add a listener. */
  on<K extends keyof ClientEventMap>(event: K, listener: Listener<K>): this
  on (event: string, listener: AnyListener): this
  on (event: string, listener: AnyListener): this {
    const list = this.listeners.get(event)
    if (list) list.push(listener)
    else this.listeners.set(event, [listener])
    if (event === 'message') this.resumeDelivery()
    return this
  }

  /** Same as `on()`. */
  addListener<K extends keyof ClientEventMap>(event: K, listener: Listener<K>): this
  addListener (event: string, listener: AnyListener): this
  addListener (event: string, listener: AnyListener): this { return this.on(event, listener) }

  /** Add a listener that runs once. */
  once<K extends keyof ClientEventMap>(event: K, listener: Listener<K>): this
  once (event: string, listener: AnyListener): this
  once (event: string, listener: AnyListener): this {
    const wrapper = (...args: unknown[]): unknown => {
      this.off(event, wrapper)
      return listener.apply(this, args)
    }
    return this.on(event, wrapper)
  }

  /** Remove a listener. */
  off<K extends keyof ClientEventMap>(event: K, listener: Listener<K>): this
  off (event: string, listener: AnyListener): this
  off (event: string, listener: AnyListener): this {
    const list = this.listeners.get(event)
    const i = list?.indexOf(listener) ?? -1
    if (list && i >= 0) list.splice(i, 1)
    return this
  }

  /** Same as `off()`. */
  removeListener<K extends keyof ClientEventMap>(event: K, listener: Listener<K>): this
  removeListener (event: string, listener: AnyListener): this
  removeListener (event: string, listener: AnyListener): this { return this.off(event, listener) }

  /** Listeners of `event`. */
  listenerCount (event: keyof ClientEventMap): number { return this.listeners.get(event)?.length ?? 0 }

  // ---- delivery -------------------------------------------------------------------------

  private command (f: () => void): void {
    try { f() } catch (e) { rethrow(e) }
  }

  // The core hands over each batch while a method (or a socket callback) is running: keep it,
  // and deliver on a microtask, so no listener ever runs inside a method call.
  private readonly onBatch = (batch: Item[]): void => {
    this.pending.push(batch)
    this.resumeDelivery()
  }

  // Deliver in order. A message waits until something consumes messages (a `message`
  // listener, an `events()` iterator, or `close()` called), and every event after it waits too,
  // as in the Node entry: a listener attached after `await`ing `open` misses nothing. (A page
  // cannot stop reading its socket, so waiting messages are held in memory.)
  private deliver (): void {
    this.scheduled = false
    let batch: Item[] | undefined
    while ((batch = this.pending[0]) !== undefined) {
      while (this.pos < batch.length) {
        const item = batch[this.pos]
        if (typeof item === 'string' || item instanceof Uint8Array) {
          if (!this.closeCalled && this.iterators.size === 0 && this.listenerCount('message') === 0) return
          this.pos++
          this.toIterators({ type: 'message', data: item })
          this.emit('message', item)
        } else {
          this.pos++
          this.deliverItem(item)
        }
      }
      this.pending.shift()
      this.pos = 0
    }
  }

  // A consumer of messages arrived: resume delivery on a later tick.
  private resumeDelivery (): void {
    if (this.scheduled || this.pending.length === 0) return
    this.scheduled = true
    queueMicrotask(() => { this.deliver() })
  }

  private deliverItem (item: Record<string, unknown> & { type: string }): void {
    switch (item.type) {
      case '$locate': {
        void this.locate(item.ticket as number, item.attempt as number, item.afterUnauthorized as boolean)
        return
      }
      case '$greet': {
        void this.greet(item.ticket as number)
        return
      }
      case '$unsent': {
        const unsent = item.unsent as Data[]
        const closers = this.closers.splice(0)
        closers.forEach((resolve, i) => { resolve(i === 0 ? unsent : []) })
        return
      }
      case 'state': {
        const state = item.state as State
        this.toIterators({ type: 'state', state })
        this.emit('state', state)
        if (state === 'closed') this.finish()
        return
      }
      case 'error': {
        const error = new ConnectionError(item.kind as ErrorKind, item.message as string)
        this.toIterators({ type: 'error', error })
        this.emit('error', error)
        return
      }
      case 'failed': {
        const info = { reason: item.reason as Cause, unsent: item.unsent as Data[] }
        this.toIterators({ type: 'failed', ...info })
        this.emit('failed', info)
        this.finish()
        return
      }
      default: {
        const { type, ...info } = item
        this.toIterators(item as unknown as ClientEvent)
        this.emit(type, info)
      }
    }
  }

  private async locate (ticket: number, attempt: number, afterUnauthorized: boolean): Promise<void> {
    let url: string | undefined
    let error: string | undefined
    try {
      const u = await (this.urlProvider as UrlProvider)(attempt, { afterUnauthorized })
      if (typeof u === 'string') url = u
      else error = 'url() must return a string'
    } catch (e) {
      error = messageOf(e)
    }
    this.core.located(ticket, url, error)
  }

  private async greet (ticket: number): Promise<void> {
    let messages: Data[] | undefined
    let error: string | undefined
    try {
      const list = await (this.greetingProvider as GreetingProvider)()
      if (Array.isArray(list)) messages = list.map((m, i) => toData(`greeting()[${i}]`, m))
      else error = 'greeting() must return an array of strings or bytes'
    } catch (e) {
      error = messageOf(e)
    }
    this.core.greeted(ticket, messages, error)
  }

  private toIterators (ev: ClientEvent): void {
    for (const it of this.iterators) it.push(ev)
  }

  // A listener that throws (or rejects) is reported as an `error` event with code
  // `ERR_CALLBACK`; the client and the other listeners carry on. An `error` listener that
  // throws is logged instead (reporting it as another `error` could loop).
  private emit (name: string, arg: unknown): void {
    const list = this.listeners.get(name)
    if (!list) return
    for (const listener of [...list]) {
      try {
        const r = listener.call(this, arg)
        if (r instanceof Promise) r.catch(e => { this.listenerFailed(name, e) })
      } catch (e) {
        this.listenerFailed(name, e)
      }
    }
  }

  private listenerFailed (name: string, e: unknown): void {
    if (name === 'error') {
      console.warn(`wstether: an 'error' listener threw: ${messageOf(e)}`)
      return
    }
    const error = new ConnectionError('callback', `a '${name}' listener threw: ${messageOf(e)}`, { cause: e })
    this.toIterators({ type: 'error', error })
    this.emit('error', error)
  }

  private finish (): void {
    this.terminal = true
    this.unwatch()
    for (const it of this.iterators) it.end()
    this.iterators.clear()
  }
}

/**
 * The page's network and lifecycle events, fed to the core: `online`/`offline` are a network
 * change; a page shown again (`visibilitychange`) or resumed after `freeze` may hold a link that
 * died while it slept, so it is probed at once (with an app-level heartbeat) or retried now.
 */
function watchNetwork (client: Client): () => void {
  if (typeof window === 'undefined' || typeof document === 'undefined') return () => {}
  const changed = (): void => {
    try { client.networkChanged() } catch { /* closed or failed: nothing to probe */ }
  }
  const shown = (): void => { if (document.visibilityState === 'visible') changed() }
  window.addEventListener('online', changed)
  window.addEventListener('offline', changed)
  document.addEventListener('visibilitychange', shown)
  document.addEventListener('resume', changed)
  return () => {
    window.removeEventListener('online', changed)
    window.removeEventListener('offline', changed)
    document.removeEventListener('visibilitychange', shown)
    document.removeEventListener('resume', changed)
  }
}

export default { Client, WstetherError, InvalidArgumentError, MessageTooLargeError, QueueFullError, ClientClosedError, ConnectionError }
