// The same page with partysocket's reconnecting WebSocket (reconnects by default).
import { WebSocket } from 'partysocket'

const log = (line) => { document.getElementById('log').textContent += `${line}\n` }
const ws = new WebSocket('ws://127.0.0.1:8765/')
ws.addEventListener('open', () => ws.send('hello'))
ws.addEventListener('message', (e) => log(String(e.data)))
ws.addEventListener('close', (e) => log(`closed ${e.code}`))
