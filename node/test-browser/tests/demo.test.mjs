// The demo page (node/examples/browser/) in headless Chromium: it connects, the test server is
// stopped and restarted from the page's own button, and the log shows the recovery. The run
// leaves a screenshot at target/browser-test/demo.png.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { artifacts, ensureDir, openPage } from './harness.mjs'
import { startDemo } from '../demo.mjs'

test('demo: the event log shows the client recovering from a server restart', async (t) => {
  const demo = await startDemo()
  t.after(() => demo.close())
  const { browser, page, errors } = await openPage(demo.url)
  t.after(() => browser.close())
  const log = () => page.locator('#log').innerText()
  await page.waitForFunction(() => document.getElementById('state').textContent === 'open', null, { timeout: 5000 })
  await page.click('#send')
  await page.waitForFunction(() => document.getElementById('log').innerText.includes('message: message #1'), null, { timeout: 5000 })
  await page.click('#restart')
  await page.waitForFunction(() => document.getElementById('log').innerText.includes('server listening again'), null, { timeout: 10000 })
  await page.waitForFunction(() => /open \(attempt [2-9]/.test(document.getElementById('log').innerText), null, { timeout: 10000 })
  await page.click('#send')
  await page.waitForFunction(() => document.getElementById('log').innerText.includes('message: message #2'), null, { timeout: 5000 })
  const text = await log()
  assert.match(text, /close 1012 "server stopping" by remote, will reconnect/)
  assert.match(text, /reconnecting: attempt \d+ in \d+ ms \(connect_failed\)/)
  assert.equal(await page.locator('#state').innerText(), 'open')
  await ensureDir(artifacts)
  await page.screenshot({ path: path.join(artifacts, 'demo.png'), fullPage: true })
  assert.deepEqual(errors, [])
})
