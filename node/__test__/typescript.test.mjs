// The TypeScript examples compile with `tsc --strict` against the shipped declarations (CJS and ESM).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

test('examples type-check with tsc --strict', () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(pkg, 'examples', 'tsconfig.json')], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stdout + r.stderr)
})
