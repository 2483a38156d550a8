// Runs the demo page (node/examples/browser/): builds it with Vite, starts wstether-testd with one echo server, and
// serves the page on 127.0.0.1 with /control/{stop,restart,drop} forwarded to the test server.
//   cd node/test-browser && npm ci && npm run demo       (then open the URL it prints)
// Needs the browser build (web/scripts/build.sh) and wstether-testd (cargo build -p
// wstether-testkit --bin wstether-testd, or $WSTETHER_TESTD).
import { createServer } from 'node:http'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'vite'
import { startTestd } from '../__test__/testkit.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const page = path.resolve(here, '..', 'examples', 'browser')
const repo = path.resolve(here, '..', '..')
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' }

/** Build and serve the demo; resolves to `{ url, close }` (`url` opens the page on the test server). */
export async function startDemo ({ port = 0 } = {}) {
  const outDir = path.join(process.env.CARGO_TARGET_DIR ?? path.join(repo, 'target'), 'browser-demo')
  await build({
    root: page,
    logLevel: 'warn',
    configFile: false,
    // `wstether` is this repository's package (its `browser` entry), as an app gets it from npm.
    resolve: { alias: { wstether: path.resolve(here, '..') } },
    build: { outDir, emptyOutDir: true }
  })
  const d = await startTestd()
  const srv = await d.ctl('/server/start')
  const routes = { stop: `/server/${srv.id}/stop?code=1012`, restart: `/server/${srv.id}/restart`, drop: `/server/${srv.id}/drop_all` }
  const http = createServer(async (req, res) => {
    const { pathname } = new URL(req.url, 'http://x')
    if (pathname.startsWith('/control/')) {
      const route = routes[pathname.slice('/control/'.length)]
      if (!route) { res.writeHead(404).end(); return }
      const body = JSON.stringify(await d.ctl(route))
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(body)
      return
    }
    const file = path.join(outDir, pathname === '/' ? 'index.html' : pathname)
    if (!file.startsWith(outDir)) { res.writeHead(403).end(); return }
    try {
      const body = await readFile(file)
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(body)
    } catch {
      res.writeHead(404).end()
    }
  })
  await new Promise(resolve => http.listen(port, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${http.address().port}/?port=${srv.port}`
  return {
    url,
    async close () {
      await new Promise(resolve => http.close(resolve))
      await d.stop()
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const demo = await startDemo({ port: Number(process.env.PORT ?? 5173) })
  console.log(`wstether browser demo: open ${demo.url} (Ctrl-C stops it)`)
  process.on('SIGINT', async () => { await demo.close(); process.exit(0) })
}
