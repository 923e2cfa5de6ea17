// One load-generator process of the chat scenario (forked by bench/chat.ts). It holds whole
// conversation groups (the widgets and the agents of some inboxes), so every latency sample is
// taken on one clock: a widget stamps the intended send time into the content, an agent of the
// same process receives it. Sends are open-loop at the step's rate and stamped with the time they
// were due, not the time they went out (no coordinated omission: a stalled generator or server
// shows as latency). IPC: setup → ready, step → stepDone, close → exit.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createHistogram, type HistogramData } from '../lib/histogram.js'
import { markerContent, parleyDriver, readMarker, socketioDriver, type Agent, type Codec, type Driver, type DriverName, type Widget } from './drivers.js'

export type LoadGroup = { inboxId: string; websiteToken: string; agentTokens: string[]; conversations: number }

export type SetupMsg = { type: 'setup'; driver: DriverName; codec: Codec; urls: string[]; groups: LoadGroup[]; offset: number; concurrency: number }
export type StepMsg = { type: 'step'; step: number; rate: number; durationMs: number; graceMs: number }
export type ToGenerator = SetupMsg | StepMsg | { type: 'close' }

export type StepResult = {
  type: 'stepDone'; step: number; sent: number; acked: number; errors: Record<string, number>
  delivered: number; echoes: number; late: number; hist: HistogramData
  /** how far the send loop fell behind its schedule at worst, ms */
  maxSendLagMs: number
  /** this generator's event-loop delay over the step (p99, max; ms): its own share of the latency */
  loopDelayP99Ms: number; loopDelayMaxMs: number
  cpuSeconds: number; elapsedSeconds: number
}
export type FromGenerator = { type: 'ready'; widgets: number; agents: number; setupMs: number } | StepResult | { type: 'error'; message: string }

const send = (m: FromGenerator) => process.send?.(m)

let current = -1
let delivered = 0
let echoes = 0
let late = 0
let acked = 0
const errors: Record<string, number> = {}
const hist = createHistogram()

const hooks = {
  agentFrame(data: Buffer | string) {
    const m = readMarker(data)
    if (m === null) return
    if (m.step !== current) { late++; return }
    hist.record(performance.now() - m.t)
    delivered++
  },
  widgetEcho(data: Buffer | string) {
    const m = readMarker(data)
    if (m !== null && m.step === current) echoes++
  },
  ack(error: string | null) {
    if (error === null) acked++
    else errors[error] = (errors[error] ?? 0) + 1
  },
  dropped(role: 'widget' | 'agent', why: string) {
    const key = `${role} dropped: ${why}`.slice(0, 80)
    drops[key] = (drops[key] ?? 0) + 1
  },
}
/** connections the server closed, since setup: counted as errors of the step they happen in */
const drops: Record<string, number> = {}

let widgets: Widget[] = []
let agents: Agent[] = []

async function pool<T>(count: number, concurrency: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count)
  let next = 0
  const worker = async () => {
    while (next < count) {
      const i = next++
      out[i] = await make(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  return out
}

async function setup(m: SetupMsg): Promise<void> {
  const started = performance.now()
  const driver: Driver = m.driver === 'parley' ? parleyDriver(m.codec, hooks) : socketioDriver(hooks)
  const url = (i: number) => m.urls[i % m.urls.length] ?? ''
  // agents first, so they are subscribed before any message flows; a group's agents sit on
  // different nodes, and widgets alternate, so half of every fan-out crosses nodes
  const agentRefs = m.groups.flatMap((g, gi) => g.agentTokens.map((agentToken, ai) => ({ g, agentToken, i: m.offset + gi + ai })))
  agents = await pool(agentRefs.length, m.concurrency, (i) => {
    const r = agentRefs[i]!
    return driver.agent(url(r.i), { inboxId: r.g.inboxId, websiteToken: r.g.websiteToken, agentToken: r.agentToken })
  })
  const widgetRefs = m.groups.flatMap((g) => Array.from({ length: g.conversations }, () => g))
  widgets = await pool(widgetRefs.length, m.concurrency, (i) => {
    const g = widgetRefs[i]!
    return driver.widget(url(m.offset + i), { inboxId: g.inboxId, websiteToken: g.websiteToken, agentToken: '' })
  })
  send({ type: 'ready', widgets: widgets.length, agents: agents.length, setupMs: performance.now() - started })
}

async function step(m: StepMsg): Promise<void> {
  current = m.step
  delivered = 0
  echoes = 0
  late = 0
  acked = 0
  for (const k of Object.keys(errors)) delete errors[k]
  hist.reset()
  const loop = monitorEventLoopDelay({ resolution: 1 })
  loop.enable()
  const cpu0 = process.cpuUsage()
  const total = Math.round((m.rate * m.durationMs) / 1000)
  const interval = 1000 / m.rate
  const start = performance.now()
  let sent = 0
  let maxLag = 0
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now()
      const due = Math.min(total, Math.floor((now - start) / interval) + 1)
      if (sent < due) maxLag = Math.max(maxLag, now - (start + sent * interval))
      while (sent < due) {
        const w = widgets[sent % widgets.length]!
        w.send(markerContent(m.step, start + sent * interval, sent), `e${m.step}.${sent}`)
        sent++
      }
      if (sent >= total) return resolve()
      setTimeout(tick, Math.max(0, Math.min(5, start + sent * interval - performance.now())))
    }
    tick()
  })
  // wait for the stragglers: every delivery and ack in, or the grace time over
  const expected = sent * 2
  const graceEnd = performance.now() + m.graceMs
  while (performance.now() < graceEnd && (delivered < expected || acked + errorCount() < sent)) await new Promise((r) => setTimeout(r, 10))
  const elapsed = (performance.now() - start) / 1000
  const cpu = process.cpuUsage(cpu0)
  loop.disable()
  for (const [k, v] of Object.entries(drops)) errors[k] = (errors[k] ?? 0) + v
  for (const k of Object.keys(drops)) delete drops[k]
  send({
    type: 'stepDone', step: m.step, sent, acked, errors: { ...errors }, delivered, echoes, late, hist: hist.data(),
    maxSendLagMs: maxLag, loopDelayP99Ms: loop.percentile(99) / 1e6, loopDelayMaxMs: loop.max / 1e6, cpuSeconds: (cpu.user + cpu.system) / 1e6, elapsedSeconds: elapsed,
  })
  current = -1
}

function errorCount(): number {
  let n = 0
  for (const v of Object.values(errors)) n += v
  return n
}

process.on('message', (raw: unknown) => {
  const m = raw as ToGenerator
  const run = m.type === 'setup' ? setup(m) : m.type === 'step' ? step(m) : Promise.resolve(shutdown())
  run.catch((err: unknown) => send({ type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) }))
})
process.on('disconnect', () => shutdown())

function shutdown(): void {
  for (const c of [...widgets, ...agents]) c.close()
  widgets = []
  agents = []
  setTimeout(() => process.exit(0), 50).unref()
  if (process.connected) process.disconnect()
}
