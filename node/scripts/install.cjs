#!/usr/bin/env node
// `npm install` hook: build the native addon (napi build --platform --release, via cargo) and the
// TypeScript when they are missing, so `npm install ./node` works from a clean clone.
// WSTETHER_SKIP_BUILD=1 skips it; WSTETHER_REBUILD=1 forces it.
'use strict'
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
if (process.env.WSTETHER_SKIP_BUILD === '1') process.exit(0)
const rebuild = process.env.WSTETHER_REBUILD === '1'
const nativeDir = path.join(root, 'native')
const hasAddon = fs.existsSync(nativeDir) && fs.readdirSync(nativeDir).some(f => f.endsWith('.node'))
const hasJs = fs.existsSync(path.join(root, 'dist', 'index.js'))
if (hasAddon && hasJs && !rebuild) process.exit(0)

// Installed as a linked folder (`npm install ./node`), our dependencies land in the consuming
// project's node_modules (INIT_CWD), not in ours: look in both.
function resolveBin (pkg, rel) {
  const paths = [root, process.env.INIT_CWD].filter(Boolean)
  try {
    return path.join(path.dirname(require.resolve(`${pkg}/package.json`, { paths })), rel)
  } catch {
    return null
  }
}
let napi = resolveBin('@napi-rs/cli', 'dist/cli.js')
let tsc = resolveBin('typescript', 'bin/tsc')
if (!napi || !tsc) {
  execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--no-save'], { cwd: root, stdio: 'inherit' })
  napi = resolveBin('@napi-rs/cli', 'dist/cli.js')
  tsc = resolveBin('typescript', 'bin/tsc')
}
const run = (args) => execFileSync(process.execPath, args, { cwd: root, stdio: 'inherit' })
if (!hasAddon || rebuild) {
  run([napi, 'build', '--platform', '--release', '--manifest-path', 'Cargo.toml',
    '--output-dir', 'native', '--js', 'index.cjs', '--dts', 'index.d.ts'])
}
// Likewise @types/node may sit in the consumer's node_modules, outside tsc's default type roots.
const typesNode = resolveBin('@types/node', '')
run([tsc, '-p', 'tsconfig.json', ...(typesNode ? ['--typeRoots', path.dirname(typesNode)] : [])])
