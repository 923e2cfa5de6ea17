// One connection-holder process of the connections scenario (forked by bench/connections.ts):
// opens `count` widget WebSockets from its own 127.0.0.x source address (so no single source runs
// out of ephemeral ports), keeps them open and idle (ws answers the server's pings), and reports.
// On `resume` it drops them all, then opens each again with the `session` its hello gave (a
// reconnect storm of returning visitors), and reports how long that took.
import WebSocket from 'ws'

export type HoldMsg = { type: 'hold'; url: string; count: number; localAddress: string; concurrency: number }
/** `localAddress`: another source address than the first connect's (its ports sit in TIME_WAIT) */
export type ResumeMsg = { type: 'resume'; concurrency: number; localAddress: string }
export type HoldResult = { type: 'held'; connected: number; failed: number; firstError: string | null; seconds: number; rssBytes: number }

const sockets: WebSocket[] = []
/** per socket: the URL it was opened with and the session its hello gave */
const sessions = new Map<WebSocket, string>()
let held: HoldMsg | null = null

function open(url: string, localAddress: string): Promise<WebSocket> {
  const ws = new WebSocket(url, ['parley.v1.json'], { perMessageDeflate: false, localAddress })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('timed out')) }, 60_000)
    ws.once('error', (err) => { clearTimeout(timer); reject(err) })
    ws.once('unexpected-response', (_req, res) => { clearTimeout(timer); ws.terminate(); reject(new Error(`HTTP ${res.statusCode}`)) })
    // connected = the hello frame arrived (the upgrade and its Redis lookups are done)
    ws.once('message', (data) => {
      clearTimeout(timer)
      try {
        const session = (JSON.parse(String(data)) as { data?: { session?: string } }).data?.session
        if (typeof session === 'string') sessions.set(ws, session)
      } catch { /* not JSON: no session to resume with */ }
      resolve(ws)
    })
  })
}

/** Opens `urls` with `concurrency` at a time into `sockets`; counts and the first error. */
async function openAll(urls: readonly string[], localAddress: string, concurrency: number) {
  const started = performance.now()
  let next = 0
  let failed = 0
  let firstError: string | null = null
  const worker = async () => {
    while (next < urls.length) {
      const url = urls[next++] as string
      try {
        const ws = await open(url, localAddress)
        ws.on('message', () => {})
        ws.on('error', () => {})
        sockets.push(ws)
      } catch (err) {
        failed++
        firstError ??= (err as Error).message
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { connected: sockets.length, failed, firstError, seconds: (performance.now() - started) / 1000, rssBytes: process.memoryUsage().rss }
}

async function resume(m: ResumeMsg): Promise<void> {
  const h = held
  if (h === null) throw new Error('resume before hold')
  const urls = sockets.map((ws) => `${h.url}&session=${encodeURIComponent(sessions.get(ws) ?? '')}`)
  for (const ws of sockets.splice(0)) ws.terminate()
  sessions.clear()
  await new Promise((r) => setTimeout(r, 1000)) // the server sees every close before the storm
  process.send?.({ type: 'held', ...(await openAll(urls, m.localAddress, m.concurrency)) } satisfies HoldResult)
}

async function hold(m: HoldMsg): Promise<void> {
  held = m
  process.send?.({ type: 'held', ...(await openAll(Array.from({ length: m.count }, () => m.url), m.localAddress, m.concurrency)) } satisfies HoldResult)
}

process.on('message', (raw: unknown) => {
  const m = raw as HoldMsg | ResumeMsg | { type: 'close' }
  const fail = (err: unknown) => process.send?.({ type: 'held', connected: sockets.length, failed: -1, firstError: String(err), seconds: 0, rssBytes: 0 })
  if (m.type === 'hold') {
    hold(m).catch(fail)
    return
  }
  if (m.type === 'resume') {
    resume(m).catch(fail)
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
