// Drives `wstether-testd` (the shared test server + fault proxy) as a child process over HTTP.

import { execFileSync, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Path of the daemon: $WSTETHER_TESTD, else target/debug, else target/release. */
export function testdPath () {
  if (process.env.WSTETHER_TESTD) return process.env.WSTETHER_TESTD
  for (const p of ['target/debug/wstether-testd', 'target/release/wstether-testd']) {
    const full = path.join(repo, p)
    if (existsSync(full)) return full
  }
  throw new Error('wstether-testd not found: run `cargo build -p wstether-testkit --bin wstether-testd`')
}

/** Start the daemon; resolves to a handle with `ctl(path)` and `stop()`. */
export async function startTestd () {
  const child = spawn(testdPath(), [], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })
  const first = await new Promise((resolve, reject) => {
    lines.once('line', resolve)
    child.once('error', reject)
    child.once('exit', code => reject(new Error(`wstether-testd exited with ${code}`)))
  })
  const port = JSON.parse(first).control
  async function ctl (route) {
    const res = await fetch(`http://127.0.0.1:${port}${route}`, { method: 'POST' })
    const body = await res.json()
    if (!res.ok) throw new Error(`${route}: HTTP ${res.status} ${JSON.stringify(body)}`)
    return body
  }
  async function stop () {
    child.stdin.end()
    if (child.exitCode === null) await new Promise(resolve => child.once('exit', resolve))
  }
  return { ctl, stop, port }
}

/**
 * Start tests/echo/echo_server.py, a plain python-websockets echo server (no subprotocol,
 * permessage-deflate offered by default); resolves to `{ url, stop }`, the URL without its slash.
 */
export async function startPythonEcho () {
  const python = execFileSync('bash', [path.join(repo, 'tests/echo/python.sh')], { encoding: 'utf8' }).trim()
  const child = spawn(python, [path.join(repo, 'tests/echo/echo_server.py')], { stdio: ['pipe', 'pipe', 'inherit'] })
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve)
    child.once('exit', code => reject(new Error(`echo server exited with ${code}`)))
  })
  return {
    url: line.trim().replace(/\/$/, ''),
    stop: async () => { child.stdin.end(); if (child.exitCode === null) await new Promise(resolve => child.once('exit', resolve)) }
  }
}

/** Scenario defaults from tests/README.md: fast backoff, no jitter, 1 s connect timeout, no heartbeat. */
export function fastOptions (extra = {}) {
  return {
    backoff: { initialMs: 50, maxMs: 200, factor: 2, jitter: 0 },
    connectTimeoutMs: 1000,
    heartbeat: false,
    ...extra
  }
}

/**
 * Records a client's events (ignoring `state` and `pong`, as the scenarios do) and lets a test wait
 * for the next event matching a predicate, with a deadline.
 */
export class Recorder {
  constructor (client) {
    this.events = []
    this.waiters = []
    const names = ['connecting', 'open', 'message', 'close', 'reconnecting', 'error', 'failed']
    for (const name of names) {
      client.on(name, (arg) => this.record(name === 'message' ? { type: 'message', data: arg } : name === 'error' ? { type: 'error', kind: arg.kind, error: arg } : { type: name, ...arg }))
    }
  }

  record (ev) {
    ev.at = performance.now()
    this.events.push(ev)
    for (const w of [...this.waiters]) w()
  }

  /** Wait until an event after index `from` matches `pred`; resolves to its index. */
  waitFor (pred, { from = 0, timeoutMs = 5000, what = 'event' } = {}) {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < this.events.length; i++) {
          if (pred(this.events[i])) {
            cleanup()
            resolve(i)
            return true
          }
        }
        return false
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`timed out waiting for ${what}; got: ${this.summary()}`))
      }, timeoutMs)
      const cleanup = () => {
        clearTimeout(timer)
        this.waiters = this.waiters.filter(w => w !== check)
      }
      if (!check()) this.waiters.push(check)
    })
  }

  /** Wait for the next event of `type` (optionally with matching fields) after `from`. */
  waitType (type, opts = {}) {
    return this.waitFor(e => e.type === type, { what: type, ...opts })
  }

  /** Event types as a compact string, e.g. "connecting open message close". */
  summary () {
    return this.events.map(e => e.type === 'error' ? `error(${e.kind})` : e.type === 'message' ? `message(${typeof e.data === 'string' ? e.data.slice(0, 20) : 'bin'})` : e.type).join(' ')
  }

  types () { return this.events.map(e => e.type) }
}
