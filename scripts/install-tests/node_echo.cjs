// Runs inside a fresh npm app where only the wstether tarballs are installed (no Rust on PATH).
// Usage: node node_echo.cjs EXPECTED_VERSION SERVER_NODE SERVER_SCRIPT
// Checks the installed version, echoes through a `ws` server, restarts the server on the same
// port, and checks that the client reconnects by itself and echoes again.
'use strict'
const { spawn } = require('node:child_process')
const path = require('node:path')
const readline = require('node:readline')

const [version, serverNode, serverScript] = process.argv.slice(2)
const DEADLINE_MS = 20000 // for each step; a healthy run takes well under a second

// Resolve from the app folder (the current directory), not from where this script lives.
const appRequire = require('node:module').createRequire(path.join(process.cwd(), 'index.js'))
const { Client } = appRequire('wstether')
const installed = appRequire('wstether/package.json').version

let server = null
function startServer (port) {
  server = spawn(serverNode, [serverScript, String(port)], { cwd: path.dirname(serverScript), stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    readline.createInterface({ input: server.stdout }).once('line', (line) => resolve(Number(line)))
    server.once('exit', (code) => reject(new Error(`echo server exited (${code})`)))
  })
}
function stopServer () {
  const s = server
  server = null
  return new Promise((resolve) => { s.once('exit', resolve); s.kill('SIGKILL') })
}

async function main () {
  if (installed !== version) throw new Error(`installed wstether ${installed}, expected ${version}`)
  const port = await startServer(0)
  const client = new Client(`ws://127.0.0.1:${port}/`, { backoff: { initialMs: 50, maxMs: 500 } })
  const events = client.events()[Symbol.asyncIterator]()
  async function until (what, match) {
    let timer
    const timeout = new Promise((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no ${what} within ${DEADLINE_MS} ms`)), DEADLINE_MS)
    })
    try {
      for (;;) {
        const { value, done } = await Promise.race([events.next(), timeout])
        if (done) throw new Error(`event stream ended while waiting for ${what}`)
        if (match(value)) return value
      }
    } finally {
      clearTimeout(timer)
    }
  }
  client.connect()
  await until('open', (e) => e.type === 'open')
  client.send('before restart')
  await until('echo', (e) => e.type === 'message' && e.data === 'before restart')

  await stopServer()
  await startServer(port)
  await until('reopen', (e) => e.type === 'open')
  client.send('after restart')
  await until('echo', (e) => e.type === 'message' && e.data === 'after restart')
  const unsent = await client.close()
  if (unsent.length !== 0) throw new Error(`unsent after close: ${unsent.length}`)
  console.log(`node (${process.arch}): wstether ${installed} echoed, survived a server restart, echoed again`)
}

main().then(
  () => stopServer(),
  async (err) => { console.error(err); if (server) await stopServer(); process.exit(1) }
)
