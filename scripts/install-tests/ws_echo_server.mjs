// A `ws` echo server on 127.0.0.1 for the install tests. Usage: node ws_echo_server.mjs [PORT]
// (run from a folder where `ws` is installed). Prints its port, then echoes until killed.
import { WebSocketServer } from 'ws'

const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.argv[2] ?? 0) })
wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })))
wss.on('listening', () => console.log(wss.address().port))
