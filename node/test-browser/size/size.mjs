// Builds one minimal page per library with Vite (production build, the defaults an app gets)
// and prints what each page downloads, gzipped (level 9), side by side. Usage:
//   node size/size.mjs [--json]
import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'vite'

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, '..', '..', '..')
const out = path.join(process.env.CARGO_TARGET_DIR ?? path.join(repo, 'target'), 'browser-size')
const pages = ['wstether', 'partysocket', 'socket.io-client']

async function files (dir) {
  const list = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name)
    if (entry.isDirectory()) list.push(...await files(p))
    else list.push(p)
  }
  return list
}

const rows = []
for (const name of pages) {
  const outDir = path.join(out, name)
  await build({ root: path.join(here, name), logLevel: 'error', build: { outDir, emptyOutDir: true } })
  const row = { name, version: JSON.parse(await readFile(path.join(here, '..', 'node_modules', name, 'package.json'), 'utf8')).version, raw: 0, gz: 0, parts: {} }
  for (const f of await files(outDir)) {
    const body = await readFile(f)
    const gz = gzipSync(body, { level: 9 }).length
    const kind = path.extname(f).slice(1)
    row.raw += (await stat(f)).size
    row.gz += gz
    row.parts[kind] = (row.parts[kind] ?? 0) + gz
  }
  rows.push(row)
}

if (process.argv.includes('--json')) {
  console.log(JSON.stringify(rows, null, 2))
} else {
  console.log('what a minimal Vite-built page downloads (gzip -9 per file, summed)')
  console.log(`${'library'.padEnd(24)}${'version'.padEnd(10)}${'raw B'.padStart(10)}${'gzip B'.padStart(10)}   gzip by kind`)
  for (const r of rows) {
    const parts = Object.entries(r.parts).map(([k, v]) => `${k} ${v}`).join(', ')
    console.log(`${r.name.padEnd(24)}${r.version.padEnd(10)}${String(r.raw).padStart(10)}${String(r.gz).padStart(10)}   ${parts}`)
  }
}
