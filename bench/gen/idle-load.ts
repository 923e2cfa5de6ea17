// One connection-holder process of the connections scenario (forked by bench/connections.ts):
// opens `count` widget WebSockets from its own 127.0.0.x source address (so no single source runs
// out of ephemeral ports), keeps them open and idle (ws answers the server's pings), and reports.
import WebSocket from 'ws'

export type HoldMsg = { type: 'hold'; url: string; count: number; localAddress: string; concurrency: number }
export type HoldResult = { type: 'held'; connected: number; failed: number; firstError: string | null; seconds: number; rssBytes: number }

const sockets: WebSocket[] = []

function open(url: string, localAddress: string): Promise<WebSocket> {
  const ws = new WebSocket(url, ['parley.v1.json'], { perMessageDeflate: false, localAddress })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('timed out')) }, 60_000)
    ws.once('error', (err) => { clearTimeout(timer); reject(err) })
    ws.once('unexpected-response', (_req, res) => { clearTimeout(timer); ws.terminate(); reject(new Error(`HTTP ${res.statusCode}`)) })
    // connected = the hello frame arrived (the upgrade and its Redis lookups are done)
    ws.once('message', () => { clearTimeout(timer); resolve(ws) })
  })
}

async function hold(m: HoldMsg): Promise<void> {
  const started = performance.now()
  let next = 0
  let failed = 0
  let firstError: string | null = null
  const worker = async () => {
    while (next < m.count) {
      next++
      try {
        const ws = await open(m.url, m.localAddress)
        ws.on('message', () => {})
        ws.on('error', () => {})
        sockets.push(ws)
      } catch (err) {
        failed++
        firstError ??= (err as Error).message
      }
    }
  }
  await Promise.all(Array.from({ length: m.concurrency }, worker))
  process.send?.({
    type: 'held', connected: sockets.length, failed, firstError, seconds: (performance.now() - started) / 1000, rssBytes: process.memoryUsage().rss,
  } satisfies HoldResult)
}

process.on('message', (raw: unknown) => {
  const m = raw as HoldMsg | { type: 'close' }
  if (m.type === 'hold') {
    hold(m).catch((err: unknown) => process.send?.({ type: 'held', connected: sockets.length, failed: -1, firstError: String(err), seconds: 0, rssBytes: 0 }))
    return
  }
  shutdown()
})
process.on('disconnect', () => shutdown())

function shutdown(): void {
  for (const ws of sockets.splice(0)) ws.terminate()
  setTimeout(() => process.exit(0), 50).unref()
  if (process.connected) process.disconnect()
}
