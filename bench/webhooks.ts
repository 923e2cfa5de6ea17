// Scenario "webhooks": sustained webhook deliveries while the chat scenario's load runs. Redis,
// PostgreSQL (default durability), one engine and the dispatcher (dist/archiver/webhooks/main.js)
// as processes of their own; the chat load generator (bench/gen/chat-load.ts, forked) drives
// widgets and agents at `--rate` messages/s for `--seconds`; one webhook per `--webhooks` takes
// every event to a local HTTP receiver (this process, answering 204 at once, checking the
// signature of every 50th delivery). Figures: deliveries/s sustained over the step, end-to-end
// delivery latency (the event's createdAt to receipt) p50/p99, the backlog left at the end, the
// dispatcher's CPU per delivery (from /proc), PostgreSQL's too (the queue lives there).
//   npm run bench:webhooks [-- --full] [--rate 300] [--seconds 10] [--conversations 60] [--webhooks 1] [--no-record]
import { fork, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import { verifySignature } from '../archiver/webhooks/sign.js'
import { freePort } from '../engine/embedded/ports.js'
import { clusterCpuSeconds, startBenchPostgres } from './archive-pg.js'
import type { FromGenerator, LoadGroup, StepResult, ToGenerator } from './gen/chat-load.js'
import { createHistogram, summarize } from './lib/histogram.js'
import { parseArgs } from './lib/args.js'
import { cpuSeconds } from './lib/procstat.js'
import { appendRow, machine, otherLoad, printLine, round, saveResults } from './lib/report.js'
import { ADMIN_TOKEN, exitCleanlyOnSignals, startBenchRedis, startEngine, startNodeServer, stopAll } from './lib/stack.js'
import { createGroups } from './lib/tenant.js'

const GENERATOR = fileURLToPath(new URL('./gen/chat-load.js', import.meta.url))
const DISPATCHER = fileURLToPath(new URL('../archiver/webhooks/main.js', import.meta.url))

function startGenerator(): { proc: ChildProcess; next: (type: string) => Promise<FromGenerator> } {
  const proc = fork(GENERATOR, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const inbox: FromGenerator[] = []
  const waiting: ((m: FromGenerator) => void)[] = []
  proc.on('message', (m: FromGenerator) => {
    const w = waiting.shift()
    if (w) w(m)
    else inbox.push(m)
  })
  proc.on('exit', (code) => { for (const w of waiting.splice(0)) w({ type: 'error', message: `generator exited with ${code}` }) })
  return {
    proc,
    next: async (type) => {
      const m = inbox.shift() ?? (await new Promise<FromGenerator>((r) => waiting.push(r)))
      if (m.type === 'error') throw new Error(m.message)
      if (m.type !== type) throw new Error(`expected ${type}, got ${m.type}`)
      return m
    },
  }
}

async function main(): Promise<void> {
  exitCleanlyOnSignals()
  const args = parseArgs(process.argv.slice(2), process.env)
  const full = args.mode === 'full'
  const rate = args.num('rate', full ? 1000 : 300)
  const seconds = args.num('seconds', full ? 30 : 10)
  const conversations = args.num('conversations', 60)
  const webhookCount = args.num('webhooks', 1)
  const perInbox = 20
  const log = (s: string) => process.stderr.write(`[webhooks] ${s}\n`)
  const stoppers: { stop(): Promise<void> }[] = []
  try {
    const redis = await startBenchRedis()
    stoppers.push(redis)
    const pg = await startBenchPostgres({})
    stoppers.push(pg)
    const engine = await startEngine(redis.url, { env: { DATABASE_URL: pg.url, WEBHOOKS_ALLOW_PRIVATE: '1' } })
    stoppers.push(engine)
    const dispatcherPort = await freePort()
    const dispatcher = await startNodeServer({
      name: 'webhooks', script: DISPATCHER, port: dispatcherPort, readyPath: '/readyz',
      env: { REDIS_URL: redis.url, DATABASE_URL: pg.url, WEBHOOKS_PORT: String(dispatcherPort), LOG_LEVEL: 'warn', WEBHOOKS_ALLOW_PRIVATE: '1', WEBHOOK_POLL_MS: '100' },
    })
    stoppers.push(dispatcher)

    // the receiver
    let received = 0
    let checked = 0
    let badSignatures = 0
    let measuring = false
    let inStep = 0
    const latency = createHistogram()
    const secrets = new Map<string, string>()
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        res.writeHead(204).end()
        received++
        if (!measuring) return
        inStep++
        const raw = Buffer.concat(chunks).toString('utf8')
        const createdAt = Number(/"createdAt":(\d+)/.exec(raw)?.[1] ?? 0)
        if (createdAt > 0) latency.record(Date.now() - createdAt)
        if (inStep % 50 === 0) {
          checked++
          const secret = secrets.get(req.url ?? '') ?? ''
          if (!verifySignature(String(req.headers['x-parley-signature'] ?? ''), raw, secret)) badSignatures++
        }
      })
    })
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
    stoppers.push({ stop: () => new Promise<void>((r) => { receiver.closeAllConnections(); receiver.close(() => r()) }) })
    const receiverPort = (receiver.address() as { port: number }).port

    const tenant = await createGroups(engine.http, Math.ceil(conversations / perInbox), 2)
    for (let i = 0; i < webhookCount; i++) {
      const path = `/hook/${i}`
      const res = await fetch(`${engine.http}/api/v1/accounts/${tenant.accountId}/webhooks`, {
        method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify({ url: `http://127.0.0.1:${receiverPort}${path}` }),
      })
      const body = (await res.json()) as { webhook: { secret: string } }
      secrets.set(path, body.webhook.secret)
    }

    const gen = startGenerator()
    stoppers.push({ stop: async () => { gen.proc.kill('SIGTERM') } })
    let left = conversations
    const groups: LoadGroup[] = tenant.groups.map((g) => {
      const n = Math.min(perInbox, left)
      left -= n
      return { ...g, conversations: n }
    })
    gen.proc.send({ type: 'setup', driver: 'parley', codec: 'json', urls: [engine.ws], groups, offset: 0, concurrency: 16 } satisfies ToGenerator)
    await gen.next('ready')
    // let the setup's events (contacts, conversations) drain before measuring
    const settle = Date.now() + 15_000
    let last = -1
    while (Date.now() < settle && received !== last) {
      last = received
      await new Promise((r) => setTimeout(r, 1000))
    }
    log(`setup: ${received} deliveries of setup events; measuring ${seconds} s at ${rate} msg/s`)

    measuring = true
    const cpu0 = cpuSeconds(dispatcher.pid)
    const pg0 = clusterCpuSeconds(pg.pid)
    const t0 = performance.now()
    gen.proc.send({ type: 'step', step: 1, rate, durationMs: seconds * 1000, graceMs: 2000 } satisfies ToGenerator)
    const step = (await gen.next('stepDone')) as StepResult
    const wall = (performance.now() - t0) / 1000
    const deliveredInStep = inStep
    const cpu = cpuSeconds(dispatcher.pid) - cpu0
    const pgCpu = clusterCpuSeconds(pg.pid) - pg0
    // the backlog: deliveries still owed when the step ended, then how long it took to drain them
    const metrics = await (await fetch(`http://127.0.0.1:${dispatcherPort}/metrics`)).text()
    const backlog = [...metrics.matchAll(/^parley_webhooks_queue_depth\{[^}]*\} (\d+)/gm)].reduce((s, m) => s + Number(m[1]), 0)
    // drained: nothing owed, and no delivery for 500 ms (the step can end before the last events are queued)
    const drainStart = performance.now()
    let seen = inStep
    let quietSince = performance.now()
    while (performance.now() - drainStart < 30_000) {
      await new Promise((r) => setTimeout(r, 100))
      if (inStep !== seen) {
        seen = inStep
        quietSince = performance.now()
        continue
      }
      if (performance.now() - quietSince < 500) continue
      const m = await (await fetch(`http://127.0.0.1:${dispatcherPort}/metrics`)).text()
      if ([...m.matchAll(/^parley_webhooks_queue_depth\{[^}]*\} (\d+)/gm)].every((x) => Number(x[1]) === 0) && inStep === seen) break
    }
    const drainSeconds = (performance.now() - drainStart) / 1000
    const deliveredAfterDrain = inStep
    measuring = false
    const lat = summarize(latency)
    const figures = {
      scenario: 'webhooks', mode: args.mode, rate, seconds, conversations, webhooks: webhookCount,
      chatSent: step.sent, chatAcked: step.acked, chatDelivered: step.delivered,
      deliveriesPerSecond: round(deliveredInStep / wall, 0), deliveriesInStep: deliveredInStep,
      deliveryLatencyMs: { p50: round(lat.p50 ?? 0, 1), p99: round(lat.p99 ?? 0, 1), max: round(lat.max ?? 0, 1) },
      backlogAtEnd: backlog, drainSeconds: round(drainSeconds, 1), deliveredAfterDrain,
      dispatcherCores: round(cpu / wall, 2), dispatcherCpuUsPerDelivery: round((cpu / Math.max(1, deliveredInStep)) * 1e6, 0),
      postgresCpuUsPerDelivery: round((pgCpu / Math.max(1, deliveredInStep)) * 1e6, 0),
      signaturesChecked: checked, badSignatures, otherLoad: otherLoad(), machine: machine(),
    }
    printLine(figures)
    if (!args.bool('no-record')) {
      saveResults('webhooks', figures)
      appendRow('webhooks', figures.machine, args.mode,
        `${figures.deliveriesPerSecond} deliveries/s at ${rate} chat msg/s, ${figures.dispatcherCpuUsPerDelivery} µs dispatcher CPU + ${figures.postgresCpuUsPerDelivery} µs PostgreSQL CPU per delivery, latency p50 ${figures.deliveryLatencyMs.p50} / p99 ${figures.deliveryLatencyMs.p99} ms, backlog ${backlog} drained in ${figures.drainSeconds} s`)
    }
    gen.proc.send({ type: 'close' } satisfies ToGenerator)
  } finally {
    await stopAll(stoppers)
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`bench webhooks failed: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
