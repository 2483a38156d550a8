// The public options (docs/contract.md in camelCase and milliseconds) and their translation to the native
// options object. Types are checked here; ranges and values are checked by the Rust core.

import { argumentError, InvalidArgumentError } from './errors'
import type { BackoffOptions } from './common'
import type { NativeOptions } from './native'

export type { BackoffOptions, UrlProvider } from './common'

/** A message payload: text or binary. */
export type Data = string | Buffer

/** Handshake headers: an object or `[name, value]` pairs. */
export type HeadersInit = Record<string, string> | Array<[string, string]>

/** Called before every connection attempt; returns the headers to add (e.g. a fresh bearer token). */
export type AuthProvider = (
  attempt: number,
  info: { afterUnauthorized: boolean }
) => HeadersInit | Promise<HeadersInit>

/** Computes the greeting on every open, e.g. the current subscriptions. */
export type GreetingProvider = () => Array<Data | ArrayBufferView | ArrayBuffer> | Promise<Array<Data | ArrayBufferView | ArrayBuffer>>


/** Keep-alive settings: a link is dead when nothing arrived for `intervalMs + timeoutMs`. */
export interface HeartbeatOptions {
  /** Ping every `intervalMs` (default 30000). */
  intervalMs?: number
  /** Extra wait for any data after a ping (default 10000). */
  timeoutMs?: number
  /** Send this application message instead of a protocol Ping, and recognise its answer. */
  appPing?: { payload: Data, pong: { exact: string } | { contains: string } }
}

/**
 * permessage-deflate parameters. Absent fields keep the core's defaults (12-bit windows both
 * ways, context takeover on); window sizes are 2^bits bytes and the core checks their range.
 */
export interface CompressionOptions {
  /** Our compressor's window in bits, offered as a hint; `null` offers no limit. */
  clientMaxWindowBits?: number | null
  /** Ask the server to compress with at most this window; `null` lets it choose. */
  serverMaxWindowBits?: number | null
  /** Compress each outgoing message on its own (nothing kept between messages). */
  clientNoContextTakeover?: boolean
  /** Ask the server to compress each message on its own. */
  serverNoContextTakeover?: boolean
}

/** Every option of docs/contract.md. All durations are in milliseconds. */
export interface ClientOptions {
  /** Subprotocols offered in the handshake. */
  protocols?: string[]
  /** Static handshake headers (CR/LF in a value is an error). */
  headers?: HeadersInit
  /** Called before every attempt; may be async. Its headers are added to that handshake. */
  auth?: AuthProvider
  /** TCP + TLS + HTTP upgrade limit (default 10000). */
  connectTimeoutMs?: number
  /** Reconnect delay curve. */
  backoff?: BackoffOptions
  /** Failed attempts since the last successful open before `failed` (default: `null`, unlimited). */
  maxRetries?: number | null
  /** Time without a link before `failed`, in ms (default: `null`, unlimited). */
  maxElapsedMs?: number | null
  /** Keep-alive (default: ping every 30 s, timeout 10 s); `false` turns it off (not advised). */
  heartbeat?: HeartbeatOptions | false
  /** Limits on messages waiting while disconnected (default 1000 messages, 1 MiB). */
  outbox?: { maxMessages?: number, maxBytes?: number }
  /** Handshakes per second per host for the whole process (default 50); `false` turns the guard off. */
  handshakeBudget?: number | false
  /**
   * Messages sent first on every open, before the outbox (auth, resubscribe): a list (see also
   * `setGreeting()`), or a function (may be async) called on every open. A function that throws,
   * or takes longer than `connectTimeoutMs`, is reported as an `error` event and that open goes
   * ahead without a greeting.
   */
  greeting?: Data[] | GreetingProvider
  /** Which closes and handshake statuses end in `failed` (default close 1008; HTTP 400, 403, 404). */
  terminal?: { closeCodes?: number[], statuses?: number[] }
  /** Largest message in either direction, bytes (default 16 MiB). */
  maxMessageSize?: number
  /**
   * TLS (verification cannot be turned off): `ca`, an extra trusted root CA (PEM);
   * `pinnedCertPem`, trust exactly this certificate (or list), self-signed or CA-flagged, its
   * validity and names still checked; `clientCertPem` + `clientKeyPem`, a client certificate for
   * mutual TLS (the key is never shown).
   */
  tls?: { ca?: string, pinnedCertPem?: string | string[], clientCertPem?: string, clientKeyPem?: string }
  /**
   * `true` (default): from `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY`/`NO_PROXY`, as curl reads them;
   * `null`: always direct; or a proxy URL: `http://user:pass@host:port`, `https://…`, `socks5h://…`
   * (credentials are never shown). A refusal is a cause of kind `proxy_rejected` (`status`),
   * `socks_rejected` (`socksReply`) or `proxy_auth`.
   */
  proxy?: true | null | string
  /** Addresses used instead of DNS: `{ 'example.test': ['::1', '127.0.0.1'] }` (Happy Eyeballs races them). */
  resolve?: Record<string, string[]>
  /** Inbound messages buffered for a slow consumer before reading stops (default 1024). */
  eventBuffer?: number
  /** How long `close()` waits for the server's close frame, in ms (default 2000). */
  closeTimeoutMs?: number
  /**
   * A server that selects none of `protocols` fails the client (`failed`, cause `incompatible`);
   * by default (`false`) the link opens with `protocol: null`.
   */
  requireProtocol?: boolean
  /**
   * permessage-deflate: `true` (default) offers it with the core's settings, `false` offers
   * nothing, an object sets its parameters. The `open` event's `compression` says what was agreed.
   */
  compression?: boolean | CompressionOptions
}

const KNOWN = new Set([
  'protocols', 'headers', 'auth', 'connectTimeoutMs', 'backoff', 'maxRetries', 'maxElapsedMs',
  'heartbeat', 'outbox', 'handshakeBudget', 'greeting', 'terminal', 'maxMessageSize', 'tls',
  'eventBuffer', 'closeTimeoutMs', 'requireProtocol', 'compression', 'proxy', 'resolve'
])

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function num (name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'number') throw argumentError(name, 'a number', v)
  return v
}

function bool (name: string, v: unknown): boolean | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'boolean') throw argumentError(name, 'a boolean', v)
  return v
}

function bits (name: string, v: unknown): number | null | undefined {
  return v === null ? null : num(name, v)
}

const COMPRESSION_KEYS = new Set(['clientMaxWindowBits', 'serverMaxWindowBits', 'clientNoContextTakeover', 'serverNoContextTakeover'])

function compression (v: unknown): NativeOptions['compression'] {
  if (v === undefined || v === true) return undefined
  if (v === false || v === null) return { enabled: false }
  const c = obj('options.compression', v)
  if (!c) throw argumentError('options.compression', 'a boolean or an object', v)
  for (const key of Object.keys(c)) {
    if (!COMPRESSION_KEYS.has(key)) throw new InvalidArgumentError('ERR_INVALID_OPTION', `unknown option ${JSON.stringify(`compression.${key}`)}`)
  }
  return {
    enabled: true,
    clientMaxWindowBits: bits('options.compression.clientMaxWindowBits', c.clientMaxWindowBits),
    serverMaxWindowBits: bits('options.compression.serverMaxWindowBits', c.serverMaxWindowBits),
    clientNoContextTakeover: bool('options.compression.clientNoContextTakeover', c.clientNoContextTakeover),
    serverNoContextTakeover: bool('options.compression.serverNoContextTakeover', c.serverNoContextTakeover)
  }
}

function str (name: string, v: unknown): string {
  if (typeof v !== 'string') throw argumentError(name, 'a string', v)
  return v
}

function obj (name: string, v: unknown): Record<string, unknown> | undefined {
  if (v === undefined) return undefined
  if (!isObject(v)) throw argumentError(name, 'an object', v)
  return v
}

function numbers (name: string, v: unknown): number[] | undefined {
  if (v === undefined) return undefined
  if (!Array.isArray(v)) throw argumentError(name, 'an array of numbers', v)
  return v.map((n, i) => {
    const x = num(`${name}[${i}]`, n) as number
    if (!Number.isInteger(x) || x < 0) throw new InvalidArgumentError('ERR_INVALID_OPTION', `${name}[${i}] must be a non-negative integer`)
    return x
  })
}

/** A payload as accepted by `send()`: string, Buffer, any TypedArray/DataView, or ArrayBuffer. */
export function toData (name: string, v: unknown): Data {
  if (typeof v === 'string' || Buffer.isBuffer(v)) return v
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  if (v instanceof ArrayBuffer) return Buffer.from(v)
  throw argumentError(name, 'a string, Buffer, TypedArray or ArrayBuffer', v)
}

/** Headers as a flat `[name, value, …]` list, checking types. */
export function flattenHeaders (name: string, h: unknown): string[] {
  const out: string[] = []
  if (Array.isArray(h)) {
    h.forEach((pair, i) => {
      if (!Array.isArray(pair) || pair.length !== 2) throw argumentError(`${name}[${i}]`, 'a [name, value] pair', pair)
      out.push(str(`${name}[${i}][0]`, pair[0]), str(`${name}[${i}][1]`, pair[1]))
    })
  } else if (isObject(h)) {
    for (const [k, v] of Object.entries(h)) out.push(k, str(`${name}.${k}`, v))
  } else {
    throw argumentError(name, 'an object or an array of [name, value] pairs', h)
  }
  return out
}

function pairs (flat: string[]): string[][] {
  const out: string[][] = []
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i], flat[i + 1]])
  return out
}

/** The proxy, pinned and client certificates and fixed addresses, type-checked. */
function transportOptions (o: Record<string, unknown>, tls: Record<string, unknown> | undefined): NonNullable<NativeOptions['transport']> {
  const t: NonNullable<NativeOptions['transport']> = {}
  if (o.proxy === null) t.proxyOff = true
  else if (typeof o.proxy === 'string') t.proxyUrl = o.proxy
  else if (o.proxy !== undefined && o.proxy !== true) throw argumentError('options.proxy', 'true, null or a proxy URL string', o.proxy)
  if (tls) {
    for (const key of Object.keys(tls)) {
      if (!['ca', 'pinnedCertPem', 'clientCertPem', 'clientKeyPem'].includes(key)) {
        throw new InvalidArgumentError('ERR_INVALID_OPTION', `unknown option ${JSON.stringify(`tls.${key}`)}`)
      }
    }
    const pins = tls.pinnedCertPem
    if (pins !== undefined) {
      t.pinnedCertPem = typeof pins === 'string' ? [pins] : Array.isArray(pins) ? pins.map((p, i) => str(`options.tls.pinnedCertPem[${i}]`, p)) : [str('options.tls.pinnedCertPem', pins)]
    }
    if (tls.clientCertPem !== undefined) t.clientCertPem = str('options.tls.clientCertPem', tls.clientCertPem)
    if (tls.clientKeyPem !== undefined) t.clientKeyPem = str('options.tls.clientKeyPem', tls.clientKeyPem)
  }
  const r = obj('options.resolve', o.resolve)
  if (r) {
    t.resolve = Object.entries(r).map(([host, ips]) => {
      if (!Array.isArray(ips)) throw argumentError(`options.resolve.${host}`, 'an array of IP address strings', ips)
      return [host, ...ips.map((ip, i) => str(`options.resolve.${host}[${i}]`, ip))]
    })
  }
  return t
}

/** Check option types and build the native options object. */
export function toNativeOptions (options: unknown): NativeOptions {
  const o = obj('options', options) ?? {}
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key)) throw new InvalidArgumentError('ERR_INVALID_OPTION', `unknown option ${JSON.stringify(key)}`)
  }
  const n: NativeOptions = {}
  if (o.protocols !== undefined) {
    if (!Array.isArray(o.protocols)) throw argumentError('options.protocols', 'an array of strings', o.protocols)
    n.protocols = o.protocols.map((p, i) => str(`options.protocols[${i}]`, p))
  }
  if (o.headers !== undefined) n.headers = pairs(flattenHeaders('options.headers', o.headers))
  if (o.auth !== undefined && typeof o.auth !== 'function') throw argumentError('options.auth', 'a function', o.auth)
  n.connectTimeoutMs = num('options.connectTimeoutMs', o.connectTimeoutMs)
  const b = obj('options.backoff', o.backoff)
  if (b) {
    n.backoff = {
      initialMs: num('options.backoff.initialMs', b.initialMs),
      maxMs: num('options.backoff.maxMs', b.maxMs),
      factor: num('options.backoff.factor', b.factor),
      jitter: num('options.backoff.jitter', b.jitter),
      stableAfterMs: num('options.backoff.stableAfterMs', b.stableAfterMs)
    }
  }
  if (o.maxRetries !== null) n.maxRetries = num('options.maxRetries', o.maxRetries)
  if (o.maxElapsedMs !== null) n.maxElapsedMs = num('options.maxElapsedMs', o.maxElapsedMs)
  if (o.heartbeat === false || o.heartbeat === null) {
    n.heartbeat = { enabled: false }
  } else {
    const h = obj('options.heartbeat', o.heartbeat)
    if (h) {
      n.heartbeat = {
        intervalMs: num('options.heartbeat.intervalMs', h.intervalMs),
        timeoutMs: num('options.heartbeat.timeoutMs', h.timeoutMs)
      }
      const ap = obj('options.heartbeat.appPing', h.appPing)
      if (ap) {
        n.heartbeat.appPingPayload = toData('options.heartbeat.appPing.payload', ap.payload)
        const pong = obj('options.heartbeat.appPing.pong', ap.pong) ?? {}
        if (pong.exact !== undefined) n.heartbeat.appPongExact = str('options.heartbeat.appPing.pong.exact', pong.exact)
        if (pong.contains !== undefined) n.heartbeat.appPongContains = str('options.heartbeat.appPing.pong.contains', pong.contains)
      }
    }
  }
  const ob = obj('options.outbox', o.outbox)
  if (ob) n.outbox = { maxMessages: num('options.outbox.maxMessages', ob.maxMessages), maxBytes: num('options.outbox.maxBytes', ob.maxBytes) }
  if (o.handshakeBudget === false || o.handshakeBudget === null) n.handshakeBudgetOff = true
  else n.handshakeBudget = num('options.handshakeBudget', o.handshakeBudget)
  if (o.greeting !== undefined && typeof o.greeting !== 'function') {
    if (!Array.isArray(o.greeting)) throw argumentError('options.greeting', 'an array of strings or Buffers, or a function', o.greeting)
    n.greeting = o.greeting.map((m, i) => toData(`options.greeting[${i}]`, m))
  }
  const t = obj('options.terminal', o.terminal)
  if (t) n.terminal = { closeCodes: numbers('options.terminal.closeCodes', t.closeCodes), statuses: numbers('options.terminal.statuses', t.statuses) }
  n.maxMessageSize = num('options.maxMessageSize', o.maxMessageSize)
  const tls = obj('options.tls', o.tls)
  if (tls && tls.ca !== undefined) n.ca = str('options.tls.ca', tls.ca)
  n.transport = transportOptions(o, tls)
  n.eventBuffer = num('options.eventBuffer', o.eventBuffer)
  n.closeTimeoutMs = num('options.closeTimeoutMs', o.closeTimeoutMs)
  n.requireProtocol = bool('options.requireProtocol', o.requireProtocol)
  n.compression = compression(o.compression)
  return n
}
