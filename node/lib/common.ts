// What the Node entry and the browser entry share, with no Node or DOM types in it: the event
// and stats types (generic over the payload type: `Buffer` in Node, `Uint8Array` in the
// browser) and the queue behind `client.events()`.

import type { ConnectionError } from './errors'

/** A payload as both entries deliver it (Node's `Buffer` is a `Uint8Array`). */
export type Payload = string | Uint8Array

/** The client's lifecycle state. */
export type State = 'idle' | 'connecting' | 'open' | 'waiting' | 'paused' | 'closing' | 'closed' | 'failed'

/** Why a link ended or an attempt failed (`kind` is stable: `closed`, `network`, `heartbeat_timeout`, …). */
export interface Cause {
  /** Stable short name: `connect_failed`, `connect_timeout`, `tls`, `handshake_rejected`, `handshake`, `auth`, `url_provider`, `proxy_rejected`, `socks_rejected`, `proxy_auth`, `incompatible`, `closed`, `heartbeat_timeout`, `write_stalled`, `network`, `protocol`, `message_too_large`, `network_changed`, `retries_exhausted`, `elapsed_exhausted`, `internal`. */
  kind: string
  /** Human-readable description (secrets redacted). */
  message: string
  /** Close code (`closed`). */
  code?: number
  /** Close reason (`closed`). */
  reason?: string
  /** HTTP status (Node only: `handshake_rejected`; the proxy's for `proxy_rejected`: 401/407 are terminal). */
  status?: number
  /** SOCKS5 reply code (Node only: `socks_rejected`: 2 not allowed, 5 refused, …). */
  socksReply?: number
  /** Retry-After in ms (Node only: `handshake_rejected`, when sent). */
  retryAfterMs?: number
  /** Attempts made (`retries_exhausted`). */
  attempts?: number
  /** Time without a link (`elapsed_exhausted`). */
  elapsedMs?: number
  /** Why the last attempt failed (`retries_exhausted`, `elapsed_exhausted`). */
  last?: Cause
}

/** `connecting`: an attempt begins. */
export interface ConnectingInfo { attempt: number }
/** `open`: the link is open (in the browser `address` is always null: it does not say). */
export interface OpenInfo {
  attempt: number
  protocol: string | null
  /** The negotiated extension (`permessage-deflate; ...`), or null when uncompressed. */
  compression: string | null
  /** `ip:port` the TCP connection reached (after Happy Eyeballs; the proxy's through a proxy), or null. */
  address: string | null
}
/** `close`: an open link ended. */
export interface CloseInfo { code: number, reason: string, initiator: 'local' | 'remote' | 'network', willReconnect: boolean }
/** `reconnecting`: waiting `delayMs` before attempt number `attempt`. */
export interface ReconnectingInfo { attempt: number, delayMs: number, cause: Cause }
/** `failed`: terminal; `unsent` holds every accepted message that was never written. */
export interface FailedInfo<D = Payload> { reason: Cause, unsent: D[] }
/** `pong`: a heartbeat got its answer. */
export interface PongInfo { rttMs: number }

/** Listener arguments per event name. */
export interface ClientEventMap<D = Payload> {
  state: [state: State]
  connecting: [info: ConnectingInfo]
  open: [info: OpenInfo]
  message: [data: D]
  pong: [info: PongInfo]
  close: [info: CloseInfo]
  reconnecting: [info: ReconnectingInfo]
  error: [error: ConnectionError]
  failed: [info: FailedInfo<D>]
}

/** One event as yielded by `client.events()`. */
export type ClientEvent<D = Payload> =
  | { type: 'state', state: State }
  | ({ type: 'connecting' } & ConnectingInfo)
  | ({ type: 'open' } & OpenInfo)
  | { type: 'message', data: D }
  | ({ type: 'pong' } & PongInfo)
  | ({ type: 'close' } & CloseInfo)
  | ({ type: 'reconnecting' } & ReconnectingInfo)
  | { type: 'error', error: ConnectionError }
  | ({ type: 'failed' } & FailedInfo<D>)

/** Counters of one client; times in milliseconds. */
export interface ClientStats {
  attempts: number
  opens: number
  messagesIn: number
  messagesOut: number
  bytesIn: number
  bytesOut: number
  queuedMessages: number
  queuedBytes: number
  lastRttMs?: number
  lastCloseCode?: number
  lastCloseReason?: string
  timeConnectedMs: number
  timeDisconnectedMs: number
  /** `ip:port` the last link's TCP connection reached (the proxy's through a proxy); never set in the browser. */
  address?: string
}

/** One state change of the flight recorder (`at`: ms since the Unix epoch). */
export interface Transition { at: number, from: State, to: State, cause: string }

/** Whether `send()` wrote the message now (`sent`) or queued it for the next open (`queued`). */
export type SendStatus = 'sent' | 'queued'

/** Called before every connection attempt for that attempt's URL (e.g. a one-time URL fetched over HTTPS). */
export type UrlProvider = (attempt: number, info: { afterUnauthorized: boolean }) => string | Promise<string>

/** Reconnect delay curve. */
export interface BackoffOptions {
  /** First delay in ms (default 1000). */
  initialMs?: number
  /** Largest delay in ms (default 10000). */
  maxMs?: number
  /** Growth per attempt, ≥ 1 (default 2). */
  factor?: number
  /** Random spread between 0 and 1 (default 0.5), so a fleet does not return at once. */
  jitter?: number
  /** The curve resets only after a link stayed open this long, in ms (default 5000). */
  stableAfterMs?: number
}

/** Most events an iterator buffers before the client stops delivering (backpressure). */
export const ITERATOR_HIGH_WATER = 1024

/** An `events()` iterator: a queue the client pushes to, read with `for await`. */
export class EventIterator<E> implements AsyncIterableIterator<E> {
  private readonly queue: E[] = []
  private head = 0
  private waiter: ((r: IteratorResult<E>) => void) | null = null
  private ended = false

  /** `onDetach` runs when the consumer stops; `onSpace` when a full queue has room again. */
  constructor (private readonly onDetach: (it: EventIterator<E>) => void, private readonly onSpace: () => void) {}

  /** Events waiting to be read. */
  get size (): number { return this.queue.length - this.head }

  /** Deliver one event (called by the client, in order). */
  push (ev: E): void {
    if (this.ended) return
    if (this.waiter) {
      const w = this.waiter
      this.waiter = null
      w({ value: ev, done: false })
    } else {
      this.queue.push(ev)
    }
  }

  /** No more events will come: the client reached its terminal event. */
  end (): void {
    this.ended = true
    if (this.waiter && this.size === 0) {
      const w = this.waiter
      this.waiter = null
      w({ value: undefined, done: true })
    }
  }

  next (): Promise<IteratorResult<E>> {
    if (this.size > 0) {
      const value = this.queue[this.head++]
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head)
        this.head = 0
      }
      if (this.size === ITERATOR_HIGH_WATER - 1) this.onSpace()
      return Promise.resolve({ value, done: false })
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true })
    return new Promise(resolve => { this.waiter = resolve })
  }

  return (): Promise<IteratorResult<E>> {
    this.ended = true
    if (this.waiter) {
      this.waiter({ value: undefined, done: true })
      this.waiter = null
    }
    this.queue.length = 0
    this.head = 0
    this.onDetach(this)
    return Promise.resolve({ value: undefined, done: true })
  }

  [Symbol.asyncIterator] (): AsyncIterableIterator<E> { return this }
}
