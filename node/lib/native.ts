// Finds and loads the native addon. Users get it from the platform package npm installed as an
// optional dependency (`wstether-linux-x64-gnu`, …); a build from source puts it in ./native
// (`npm run build:native`). Where neither fits, one plain error says which platform this is and
// which ones have a package, instead of a stack of failed `require`s.
import type * as Native from '../native/index'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

/** Platform (`<os>-<cpu>[-<libc>]`, napi-rs naming) → the npm package that carries its addon. */
export const PLATFORM_PACKAGES: Readonly<Record<string, string>> = {
  'linux-x64-gnu': 'wstether-linux-x64-gnu',
  'linux-arm64-gnu': 'wstether-linux-arm64-gnu',
  'linux-x64-musl': 'wstether-linux-x64-musl'
}

/** Whether this Linux process runs on musl: Node reports a glibc version only when glibc runs it. */
function isMusl (): boolean {
  try {
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined
    return report?.header?.glibcVersionRuntime === undefined
  } catch {
    return false
  }
}

/** This process's platform in the napi-rs naming used by the package names. */
export function currentPlatform (): string {
  const base = `${process.platform}-${process.arch}`
  return process.platform === 'linux' ? `${base}-${isMusl() ? 'musl' : 'gnu'}` : base
}

function isModuleNotFound (err: unknown, request: string): boolean {
  const e = err as { code?: string, message?: string }
  return e?.code === 'MODULE_NOT_FOUND' && typeof e.message === 'string' && e.message.includes(request)
}

function loadFailed (platform: string, what: string, err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err)
  return new Error(`wstether: the native addon for ${platform} (${what}) failed to load: ${message}`, { cause: err })
}

function loadNative (): typeof Native {
  const platform = currentPlatform()
  // A build from source (`napi build --platform`) wins, so a clone tests what it just built.
  const local = join(__dirname, '..', 'native', `wstether.${platform}.node`)
  if (existsSync(local)) {
    try {
      return require(local)
    } catch (err) {
      throw loadFailed(platform, local, err)
    }
  }
  const pkg = PLATFORM_PACKAGES[platform]
  if (pkg !== undefined) {
    try {
      return require(pkg)
    } catch (err) {
      if (!isModuleNotFound(err, pkg)) throw loadFailed(platform, pkg, err)
    }
  }
  const supported = Object.keys(PLATFORM_PACKAGES).join(', ')
  const hint = pkg !== undefined
    ? `its package ${pkg} is not installed (was npm run with --omit=optional or --no-optional?)`
    : 'no prebuilt addon exists for it'
  throw new Error(
    `wstether: no native addon for ${platform}: ${hint}. Prebuilt addons exist for: ${supported}. ` +
    'Elsewhere, build from source (needs Rust): see "Building from source" in the wstether README.'
  )
}

export const native: typeof Native = loadNative()
export type NativeClient = Native.NativeClient
export type NativeOptions = Native.NativeOptions
