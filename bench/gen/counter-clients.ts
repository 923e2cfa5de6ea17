// Subscribers for the uWS publish ceiling (forked by bench/ceilings.ts): `count` plain ws clients
// that count what they receive and report the total to the server every 20 ms.
import WebSocket from 'ws'

const sockets: WebSocket[] = []
let total = 0

process.on('message', (raw: unknown) => {
  const m = raw as { type: 'connect'; url: string; count: number } | { type: 'close' }
  if (m.type === 'close') {
    for (const ws of sockets) ws.terminate()
    setTimeout(() => process.exit(0), 50)
    return
  }
  let open = 0
  for (let i = 0; i < m.count; i++) {
    const ws = new WebSocket(m.url, { perMessageDeflate: false })
    ws.on('message', () => { total++ })
    ws.once('open', () => {
      if (++open === m.count) {
        process.send?.({ type: 'connected' })
        setInterval(() => sockets[0]?.send(`${process.pid}:${total}`), 20)
      }
    })
    ws.on('error', (err) => process.send?.({ type: 'error', message: err.message }))
    sockets.push(ws)
  }
})
process.on('disconnect', () => process.exit(0))
