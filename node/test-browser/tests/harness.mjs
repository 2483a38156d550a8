// What every browser test needs: the shared test daemon (wstether-testd), the test page built
// with Vite and served on 127.0.0.1, and headless Chromium (Debian's, through playwright-core).

import { createServer } from 'node:http'
import { readFile, mkdir } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'vite'
import { chromium } from 'playwright-core'

export { startTestd } from '../../__test__/testkit.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
export const repo = path.resolve(here, '..', '..', '..')
export const artifacts = path.join(process.env.CARGO_TARGET_DIR ?? path.join(repo, 'target'), 'browser-test')

/** The Chromium to drive: $CHROMIUM, else Debian's. */
export function chromiumPath () {
  const candidates = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean)
  const found = candidates.find(p => existsSync(p))
  if (!found) throw new Error('no Chromium: apt-get install -y chromium (web/scripts/test.sh does), or set CHROMIUM')
  return found
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.png': 'image/png' }

/** Serve `dir` on 127.0.0.1 (a random port); resolves to `{ url, close }`. */
export async function serve (dir) {
  const server = createServer(async (req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname)
    const file = path.join(dir, rel.endsWith('/') ? `${rel}index.html` : rel)
    if (!file.startsWith(dir)) { res.writeHead(403).end(); return }
    try {
      const body = await readFile(file)
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-store' })
      res.end(body)
    } catch {
      res.writeHead(404).end()
    }
  })
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise(resolve => server.close(resolve)) }
}

/** Build a Vite project (its config file) into its outDir. */
export async function viteBuild (configFile) {
  await build({ configFile, logLevel: 'warn' })
}

/** Chromium with one page at `url`, once the page says it is ready. */
export async function openPage (url) {
  const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox'] })
  const context = await browser.newContext()
  const page = await context.newPage()
  const errors = []
  page.on('pageerror', e => errors.push(e))
  // The browser logs every refused WebSocket itself; the tests cause many on purpose.
  page.on('console', m => { if ((m.type() === 'error' || m.type() === 'warning') && !m.text().startsWith('WebSocket connection to')) console.error(`[page] ${m.text()}`) })
  await page.goto(url)
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', null, { timeout: 15000 })
  return { browser, context, page, errors }
}

export async function ensureDir (dir) { await mkdir(dir, { recursive: true }) }
