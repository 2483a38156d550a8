// wstether: a WebSocket client that stays connected. Public entry point (CommonJS build; the
// ESM entry `esm/index.mjs` re-exports this module so both share one set of classes).

export { Client } from './client'
export type { ClientStats, SendStatus, Transition } from './client'
export {
  ClientClosedError, ConnectionError, InvalidArgumentError, MessageTooLargeError, QueueFullError, WstetherError
} from './errors'
export type { ErrorKind } from './errors'
export type {
  Cause, ClientEvent, ClientEventMap, CloseInfo, ConnectingInfo, FailedInfo, OpenInfo, PongInfo, ReconnectingInfo, State
} from './events'
export type { AuthProvider, BackoffOptions, ClientOptions, CompressionOptions, Data, GreetingProvider, HeadersInit, HeartbeatOptions, UrlProvider } from './options'
