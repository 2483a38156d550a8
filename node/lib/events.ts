// Event payload types as the Node entry delivers them (binary as `Buffer`), and the async
// iterator behind `client.events()`; both shared with the browser entry (common.ts).

import type * as Common from './common'
import type { Data } from './options'

export type { Cause, CloseInfo, ConnectingInfo, OpenInfo, PongInfo, ReconnectingInfo, State } from './common'
export { EventIterator, ITERATOR_HIGH_WATER } from './common'

/** `failed`: terminal; `unsent` holds every accepted message that was never written. */
export type FailedInfo = Common.FailedInfo<Data>
/** Listener arguments per event name. */
export type ClientEventMap = Common.ClientEventMap<Data>
/** One event as yielded by `client.events()`. */
export type ClientEvent = Common.ClientEvent<Data>
