// The README's example runs unchanged (but for its URL) against a plain python-websockets echo
// server, which selects no subprotocol (issue 12, item 9). `examples/readme.mts` holds the same
// text, so `tsc --strict` checks it too.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const here = path.dirname(fileURLToPath(import.meta.url))
const pkg = path.resolve(here, '..')
const repo = path.resolve(pkg, '..')
const README_URL = 'ws://localhost:8765'

/** Start tests/echo/echo_server.py; resolves to `{ url, stop }`. */
async function startEcho () {
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

function readmeExample () {
  const readme = readFileSync(path.join(pkg, 'README.md'), 'utf8')
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map(m => m[1])
  assert.equal(blocks.length, 1, 'one TypeScript example in the README')
  return blocks[0]
}

test('the README example is examples/readme.mts, verbatim', () => {
  assert.equal(readmeExample(), readFileSync(path.join(pkg, 'examples/readme.mts'), 'utf8'))
})

test('the README example runs against a python-websockets echo server', async (t) => {
  const echo = await startEcho()
  t.after(echo.stop)
  const example = readmeExample()
  assert.ok(example.includes(README_URL))
  const ts = createRequire(import.meta.url)('typescript')
  const js = ts.transpileModule(example.replaceAll(README_URL, echo.url), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 }
  }).outputText
  // Inside the package, so `import ... from 'wstether'` resolves to this package (self-reference).
  const dir = path.join(pkg, 'dist', 'readme')
  mkdirSync(dir, { recursive: true })
  const file = path.join(dir, 'example.mjs')
  writeFileSync(file, js)
  const run = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  run.stdout.on('data', d => { out += d })
  run.stderr.on('data', d => { err += d })
  const timer = setTimeout(() => run.kill(), 30000)
  const code = await new Promise(resolve => run.once('exit', resolve))
  clearTimeout(timer)
  assert.equal(code, 0, `exit ${code}\n${out}\n${err}`)
  assert.match(out, /open 1 null/)           // the server selected no subprotocol
  assert.match(out, /got hi/)
  assert.match(out, /Client \{ url: 'ws:\/\/127\.0\.0\.1:\d+\/', state: 'closed' \} \[\]/)
})
