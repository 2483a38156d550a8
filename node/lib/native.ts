// Loads the native addon built by `napi build` into ./native (the package directory).
import type * as Native from '../native/index'

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const native: typeof Native = require('../native/index.cjs')
export type NativeClient = Native.NativeClient
export type NativeOptions = Native.NativeOptions
