// The uWS publish ceiling's server (forked by bench/ceilings.ts): a bare uWS app whose clients all
// subscribe to one topic; it publishes a fixed frame to the topic as fast as the clients take it.
// Flow control is a window: clients report how many frames they have received, and the server
// keeps at most `window` frames per client in flight, so the figure is a sustained rate, not a
// burst into buffers. IPC: start → (publishing) → stop → result.
import { createRequire } from 'node:module'
import type { WebSocket } from 'uWebSockets.js'

type Uws = typeof import('uWebSockets.js')
const uws = createRequire(import.meta.url)('uWebSockets.js') as Uws

export type PublisherStart = { type: 'start'; clients: number; frameBytes: number; window: number }
export type PublisherResult = { type: 'result'; published: number; received: number; seconds: number; cpuSeconds: number }

const port = Number(process.env['PORT'] ?? 0)
const reported = new Map<string, number>()
let clients = 0
let published = 0
let running = false
let frame = ''
let window = 1000
let expected = 0
let t0 = 0
let received0 = 0
let cpu0 = process.cpuUsage()

const received = () => {
  let n = 0
  for (const v of reported.values()) n += v
  return n
}

const app = uws.App().ws<{ id: number }>('/ws', {
  compression: uws.DISABLED,
  maxBackpressure: 64 * 1024 * 1024,
  idleTimeout: 120,
  open: (ws: WebSocket<{ id: number }>) => {
    ws.subscribe('t')
    clients++
  },
  // a client process reports "<process id>:<frames received so far>"
  message: (_ws, message) => {
    const [who, count] = Buffer.from(message).toString().split(':')
    reported.set(who ?? '', Number(count))
  },
  close: () => { clients-- },
})

function pump(): void {
  if (!running) return
  const inflightLimit = window * expected
  let n = 0
  while (n < 256 && published * expected - received() < inflightLimit) {
    app.publish('t', frame, false)
    published++
    n++
  }
  setImmediate(pump)
}

app.listen('127.0.0.1', port, (s) => {
  if (s === false) process.exit(3)
  process.send?.({ type: 'listening', port: uws.us_socket_local_port(s) })
})

process.on('message', (raw: unknown) => {
  const m = raw as PublisherStart | { type: 'measure' } | { type: 'stop' }
  if (m.type === 'start') {
    frame = 'x'.repeat(m.frameBytes)
    window = m.window
    expected = m.clients
    running = true
    pump()
  } else if (m.type === 'measure') {
    // the measured interval starts after a warm-up
    t0 = performance.now()
    received0 = received()
    cpu0 = process.cpuUsage()
  } else {
    running = false
    const cpu = process.cpuUsage(cpu0)
    process.send?.({
      type: 'result', published, received: received() - received0, seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6,
    } satisfies PublisherResult)
    setTimeout(() => process.exit(0), 100)
  }
})
process.on('disconnect', () => process.exit(0))
void clients
