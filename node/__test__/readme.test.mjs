// The README's example runs unchanged (but for its URL) against a plain python-websockets echo
// server, which selects no subprotocol (issue 12, item 9). `examples/readme.mts` holds the same
// text, so `tsc --strict` checks it too.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { startPythonEcho } from './testkit.mjs'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const here = path.dirname(fileURLToPath(import.meta.url))
const pkg = path.resolve(here, '..')
const README_URL = 'ws://localhost:8765'

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
  const echo = await startPythonEcho()
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
