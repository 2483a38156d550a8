// The smallest useful page: connect, log messages, send one, reconnect on loss (by default).
import { Client } from 'wstether'

const log = (line) => { document.getElementById('log').textContent += `${line}\n` }
const client = new Client('ws://127.0.0.1:8765/')
client.on('open', () => client.send('hello'))
client.on('message', (data) => log(String(data)))
client.on('close', ({ code }) => log(`closed ${code}`))
client.connect()
