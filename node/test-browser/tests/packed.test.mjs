// What `npm install wstether` gives a web app: the package as `npm pack` makes it from node/
// (its "files"), unpacked into a fresh app's node_modules, built with Vite, run in headless
// Chromium against wstether-testd: echo, and a server restart survived.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { build } from 'vite'
import { artifacts, openPage, repo, serve, startTestd } from './harness.mjs'

test('the packed package: a fresh Vite app imports it, echoes, and survives a server restart', async (t) => {
  const app = path.join(artifacts, 'packed-app')
  rmSync(app, { recursive: true, force: true })
  const pkgDir = path.join(app, 'node_modules', 'wstether')
  mkdirSync(pkgDir, { recursive: true })
  const tgz = execFileSync('npm', ['pack', '--silent', '--pack-destination', app], { cwd: path.join(repo, 'node'), encoding: 'utf8' }).trim().split('\n').at(-1)
  execFileSync('tar', ['-xzf', path.join(app, tgz), '-C', pkgDir, '--strip-components=1'])
  assert.ok(readdirSync(path.join(pkgDir, 'wasm')).includes('wstether_web_bg.wasm'))
  writeFileSync(path.join(app, 'index.html'), '<!doctype html><meta charset="utf-8"><p id="status">loading</p><script type="module" src="./main.js"></script>\n')
  writeFileSync(path.join(app, 'main.js'), `import { Client } from 'wstether'
const url = new URLSearchParams(location.search).get('url')
const log = []
const client = new Client(url, { backoff: { initialMs: 50, maxMs: 200, jitter: 0 } })
for (const name of ['open', 'message', 'close']) client.on(name, (a) => log.push(name === 'message' ? 'message ' + a : name))
client.on('open', () => client.send('hi'))
client.connect()
window.log = log
document.getElementById('status').textContent = 'ready'
`)
  await build({ root: app, logLevel: 'warn', configFile: false, build: { outDir: path.join(app, 'dist') } })
  assert.ok(readdirSync(path.join(app, 'dist', 'assets')).some(f => f.endsWith('.wasm')), 'Vite emitted the .wasm')

  const d = await startTestd()
  t.after(() => d.stop())
  const srv = await d.ctl('/server/start')
  const site = await serve(path.join(app, 'dist'))
  t.after(() => site.close())
  const { browser, page, errors } = await openPage(`${site.url}?url=${encodeURIComponent(srv.url)}`)
  t.after(() => browser.close())
  await page.waitForFunction(() => window.log.includes('message hi'), null, { timeout: 5000 })
  await d.ctl(`/server/${srv.id}/stop?code=1012`)
  await d.ctl(`/server/${srv.id}/restart`)
  await page.waitForFunction(() => window.log.filter(l => l === 'message hi').length === 2, null, { timeout: 5000 })
  assert.deepEqual(await page.evaluate(() => window.log), ['open', 'message hi', 'close', 'open', 'message hi'])
  assert.deepEqual(errors, [])
})
