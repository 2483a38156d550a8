// Error classes. Every error wstether throws or emits is a `WstetherError` with a stable `code`.

/** Base class of every wstether error; `code` is a stable string such as `ERR_QUEUE_FULL`. */
export class WstetherError extends Error {
  /** Stable machine-readable code. */
  readonly code: string
  constructor (code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}

/** A bad argument or option: wrong type (`ERR_INVALID_ARG_TYPE`), bad URL, header, option value, certificate, close code or reason. */
export class InvalidArgumentError extends WstetherError {}

/** `send()` got a message larger than `maxMessageSize` (`ERR_MESSAGE_TOO_LARGE`). */
export class MessageTooLargeError extends WstetherError {}

/** `send()` found the outbox full (`ERR_QUEUE_FULL`); the message was not accepted. */
export class QueueFullError extends WstetherError {}

/** The client was closed (`ERR_CLOSED`) or has failed (`ERR_FAILED`): it accepts nothing more. */
export class ClientClosedError extends WstetherError {}

/** What kind of trouble an `error` event reports. */
export type ErrorKind = 'connect' | 'auth' | 'link' | 'callback'

/**
 * Emitted with the `error` event: something failed and the client is still trying.
 * `code` is `ERR_CONNECT`, `ERR_AUTH`, `ERR_LINK` or `ERR_CALLBACK` (a listener threw; see `cause`).
 */
export class ConnectionError extends WstetherError {
  /** Which kind of failure. */
  readonly kind: ErrorKind
  constructor (kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(`ERR_${kind.toUpperCase()}`, message, options)
    this.kind = kind
  }
}

const ARGUMENT_CODES = new Set([
  'ERR_INVALID_ARG_TYPE', 'ERR_INVALID_URL', 'ERR_INVALID_SCHEME', 'ERR_INVALID_HEADER',
  'ERR_INVALID_OPTION', 'ERR_INVALID_CERTIFICATE', 'ERR_INVALID_CLOSE_CODE', 'ERR_CLOSE_REASON_TOO_LONG'
])

/** The error class for a code coming from the native layer. */
export function errorFromCode (code: string, message: string): WstetherError {
  if (ARGUMENT_CODES.has(code)) return new InvalidArgumentError(code, message)
  switch (code) {
    case 'ERR_MESSAGE_TOO_LARGE': return new MessageTooLargeError(code, message)
    case 'ERR_QUEUE_FULL': return new QueueFullError(code, message)
    case 'ERR_CLOSED':
    case 'ERR_FAILED': return new ClientClosedError(code, message)
    default: return new WstetherError(code, message)
  }
}

/** Re-throw an error from a native call as the matching `WstetherError`. */
export function rethrow (e: unknown): never {
  if (e instanceof Error && !(e instanceof WstetherError)) {
    const code = (e as { code?: unknown }).code
    // napi's own argument conversion failures carry a napi status name as their code.
    throw errorFromCode(typeof code === 'string' && code.startsWith('ERR_') ? code : 'ERR_INVALID_ARG_TYPE', e.message)
  }
  throw e
}

/** A `TypeError`-like argument failure raised by the TypeScript layer itself. */
export function argumentError (what: string, expected: string, got: unknown): InvalidArgumentError {
  const shown = got === null ? 'null' : Array.isArray(got) ? 'an array' : typeof got
  return new InvalidArgumentError('ERR_INVALID_ARG_TYPE', `${what} must be ${expected}, got ${shown}`)
}
