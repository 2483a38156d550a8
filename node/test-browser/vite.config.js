// Builds the test page (page/) as an app would: `wstether` from npm (here `file:..`), resolved
// through the package's `browser` condition. Output: ../../target/browser-test/page.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

export default defineConfig({
  root: fileURLToPath(new URL('./page', import.meta.url)),
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../../target/browser-test/page', import.meta.url)),
    emptyOutDir: true
  }
})
