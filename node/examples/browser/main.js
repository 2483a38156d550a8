// The demo: one wstether client, every event in a log, and buttons that break the local test
// server (through node/test-browser/demo.mjs, which runs wstether-testd) so the recovery can be watched.
import { Client } from 'wstether'

const params = new URLSearchParams(location.search)
const url = params.get('url') ?? `ws://127.0.0.1:${params.get('port') ?? '8765'}/`
const $ = (id) => document.getElementById(id)
const t0 = performance.now()

function log (text) {
  const line = document.createElement('div')
  const at = document.createElement('span')
  at.className = 't'
  at.textContent = `${((performance.now() - t0) / 1000).toFixed(2).padStart(7)} s  `
  line.append(at, text)
  $('log').append(line)
  $('log').scrollTop = $('log').scrollHeight
}

const client = new Client(url, {
  backoff: { initialMs: 250, maxMs: 4000 },
  heartbeat: { intervalMs: 5000, timeoutMs: 3000, appPing: { payload: 'ping', pong: { exact: 'ping' } } },
  greeting: ['hello from the greeting']
})
$('url').textContent = client.url

client.on('state', (state) => { $('state').textContent = state; $('state').className = state })
client.on('connecting', ({ attempt }) => log(`connecting (attempt ${attempt})`))
client.on('open', ({ attempt }) => log(`open (attempt ${attempt})`))
client.on('message', (data) => log(`message: ${typeof data === 'string' ? data : `${data.length} bytes`}`))
client.on('close', ({ code, reason, initiator, willReconnect }) => log(`close ${code} ${reason ? `"${reason}" ` : ''}by ${initiator}${willReconnect ? ', will reconnect' : ''}`))
client.on('reconnecting', ({ attempt, delayMs, cause }) => log(`reconnecting: attempt ${attempt} in ${Math.round(delayMs)} ms (${cause.kind})`))
client.on('error', (e) => log(`error (${e.kind}): ${e.message}`))
client.on('failed', ({ reason }) => log(`failed: ${reason.message}`))
client.connect()

let n = 0
$('send').onclick = () => log(`send #${++n}: ${client.send(`message #${n}`)}`)
const control = (route) => fetch(`/control/${route}`, { method: 'POST' }).then(r => r.json())
$('restart').onclick = async () => {
  log('— stopping the server (close 1012), restarting it in 1.5 s —')
  await control('stop')
  setTimeout(() => { control('restart').then(() => log('— server listening again —')) }, 1500)
}
$('drop').onclick = () => { log('— dropping the TCP connection —'); control('drop') }
window.demo = { client }
$('status').textContent = 'ready'
