// ESM entry: re-exports the CommonJS build, so `import` and `require` share one set of classes
// (an error thrown through one is `instanceof` the class imported through the other).
import wstether from '../dist/index.js'

export const {
  Client,
  WstetherError,
  InvalidArgumentError,
  MessageTooLargeError,
  QueueFullError,
  ClientClosedError,
  ConnectionError
} = wstether
export default wstether
