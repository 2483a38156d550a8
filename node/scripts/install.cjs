#!/usr/bin/env node
// `npm install` hook: build the native addon (cargo, release) and the TypeScript when they are
// missing, so `npm install ./node` works from a clean clone. Set WSTETHER_SKIP_BUILD=1 to skip.
'use strict'
const { execSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
if (process.env.WSTETHER_SKIP_BUILD === '1') process.exit(0)
const hasAddon = fs.existsSync(path.join(root, 'native')) &&
  fs.readdirSync(path.join(root, 'native')).some(f => f.endsWith('.node'))
const hasJs = fs.existsSync(path.join(root, 'dist', 'index.js'))
const run = (cmd) => execSync(cmd, { cwd: root, stdio: 'inherit' })
if (!hasAddon || process.env.WSTETHER_REBUILD === '1') run('npm run build:native')
if (!hasJs || !hasAddon || process.env.WSTETHER_REBUILD === '1') run('npm run build:ts')
