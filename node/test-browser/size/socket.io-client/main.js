// The same page with socket.io-client (reconnects by default; needs a socket.io server).
import { io } from 'socket.io-client'

const log = (line) => { document.getElementById('log').textContent += `${line}\n` }
const socket = io('ws://127.0.0.1:8765/', { transports: ['websocket'] })
socket.on('connect', () => socket.send('hello'))
socket.on('message', (data) => log(String(data)))
socket.on('disconnect', (reason) => log(`closed ${reason}`))
