// No bundler: a static page loads the browser entry as plain ES modules through an import map
// (the .wasm found beside its glue through import.meta.url), connects and echoes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { artifacts, openPage, repo, serve, startTestd } from './harness.mjs'

test('plain ES modules: an import map names wstether, the page connects and echoes', async (t) => {
  const site = path.join(artifacts, 'plain')
  rmSync(site, { recursive: true, force: true })
  mkdirSync(site, { recursive: true })
  symlinkSync(path.join(repo, 'node'), path.join(site, 'wstether'))
  writeFileSync(path.join(site, 'index.html'), `<!doctype html><meta charset="utf-8">
<script type="importmap">{ "imports": { "wstether": "/wstether/browser/browser.js" } }</script>
<p id="status">loading</p>
<script type="module">
import { Client } from 'wstether'
const client = new Client(new URLSearchParams(location.search).get('url'))
window.got = []
client.on('open', () => client.send('plain'))
client.on('message', (m) => window.got.push(m))
client.connect()
document.getElementById('status').textContent = 'ready'
</script>
`)
  const d = await startTestd()
  t.after(() => d.stop())
  const srv = await d.ctl('/server/start')
  const http = await serve(site)
  t.after(() => http.close())
  const { browser, page, errors } = await openPage(`${http.url}?url=${encodeURIComponent(srv.url)}`)
  t.after(() => browser.close())
  await page.waitForFunction(() => window.got.includes('plain'), null, { timeout: 5000 })
  assert.deepEqual(errors, [])
})
