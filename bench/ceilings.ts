// Scenario "ceilings": the two things Parley's hot path is made of, each alone, on this machine.
//   script   appendMessage by pipelined EVALSHA (many in flight) on C conversations, through the
//            engine's own typed wrapper → messages/s that Redis can append (no subscribers on the
//            fan-out channel, events stream trimmed as the archiver would)
//   publish  a bare uWS app publishing one topic to N local ws clients, window flow control →
//            deliveries/s (frames of the size of a Parley message.created event)
// The chat figures are quoted against these (bench/run.ts and RESULTS.md).
//   npm run bench:ceilings [-- --full] [--seconds 10] [--inflight 256] [--clients 100] [--no-record]
//     [--redis single|cluster|both[,…]] [--masters 3] [--replicas 0] [--partitions N]
// --redis other than `single`: the script ceiling alone, once per Redis mode in turn, with the
// conversations spread over N partitions (one account each; default all DEFAULT_PARTITIONS, so
// every master gets its share), Redis CPU and EVALSHA calls per master; one JSON line comparing
// them ("ceilings-cluster"). Plain runs keep one account (one partition) unless --partitions.
import { fork } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { DEFAULT_PARTITIONS } from '../lua/keys.js'
import { createScripts } from '../lua/scripts.js'
import { newId, newUid } from '../engine/ids.js'
import { markerContent } from './gen/drivers.js'
import type { PublisherResult, PublisherStart } from './gen/uws-publisher.js'
import { parseArgs, type Args, type Mode } from './lib/args.js'
import { appendAccounts, appendLoad, createTargets, trimEvents } from './lib/append-load.js'
import { mastersCpu, nodeFigures, projectedRate, type NodeFigures } from './lib/nodestats.js'
import { cpuSeconds } from './lib/procstat.js'
import { appendRow, machine, measuredLoad, median, otherLoad, printLine, round, saveResults } from './lib/report.js'
import { foreignMeter, QUIET_CORES, waitQuiet } from './lib/quiet.js'
import { exitCleanlyOnSignals } from './lib/stack.js'
import { modeLabel, parseRedisModes, startStore, type RedisMode } from './lib/store.js'

const PUBLISHER = fileURLToPath(new URL('./gen/uws-publisher.js', import.meta.url))
const CLIENTS = fileURLToPath(new URL('./gen/counter-clients.js', import.meta.url))

export type CeilingsOptions = {
  mode: Mode; seconds: number; reps: number; inflight: number; conversations: number; connections: number
  clients: number; clientProcs: number; window: number; record: boolean; verbose: boolean
  /** redo a measurement that other processes disturbed, once the machine is quiet */
  waitQuiet: boolean
  /** the Redis the script ceiling runs on, in turn (default one instance) */
  redis: RedisMode[]
  /** distinct partitions (one account each) the conversations are spread over */
  partitions: number
}

export function ceilingsOptions(args: Args): CeilingsOptions {
  const full = args.mode === 'full'
  const redis = parseRedisModes(args.str('redis', 'single'), { masters: args.num('masters', 3), replicas: args.num('replicas', 0) })
  const single = redis.length === 1 && redis[0]?.kind === 'single'
  const partitions = args.num('partitions', single ? 1 : DEFAULT_PARTITIONS)
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > DEFAULT_PARTITIONS) throw new Error(`--partitions must be 1–${DEFAULT_PARTITIONS}, got ${partitions}`)
  return {
    mode: args.mode,
    redis,
    partitions,
    seconds: args.num('seconds', full ? 10 : 4),
    reps: args.num('reps', full ? 3 : 1),
    inflight: args.num('inflight', 256),
    conversations: args.num('conversations', 2000),
    connections: args.num('redis-connections', 2),
    clients: args.num('clients', 100),
    clientProcs: args.num('client-procs', 2),
    window: args.num('window', 1000),
    record: !args.bool('no-record'),
    verbose: !args.bool('silent'),
    waitQuiet: args.bool('wait-quiet') || (full && !args.bool('no-wait-quiet')),
  }
}

/** Runs a measurement; with waitQuiet, again (up to 10 times) while other processes disturbed it. */
async function quietly<T extends object>(opts: CeilingsOptions, ours: () => number[], log: (s: string) => void, measure: () => Promise<T>): Promise<T & { foreignCpu: number }> {
  const meter = foreignMeter(ours)
  for (let attempt = 1; ; attempt++) {
    meter.mark()
    const r = await measure()
    const foreignCpu = Math.round(((r as { foreignCpu?: number }).foreignCpu ?? meter.read()) * 100) / 100
    if (!opts.waitQuiet || foreignCpu <= QUIET_CORES || attempt > 10) return { ...r, foreignCpu }
    log(`other processes used ${foreignCpu} cores meanwhile: measuring again once the machine is quiet`)
    await waitQuiet(ours, log)
  }
}

/** A message.created event frame as Parley sends it to agents, for the publish ceiling's size. */
export function sampleEventFrame(): string {
  const conv = newId('cv')
  return JSON.stringify({
    op: 'event', type: 'message.created', data: {
      message: {
        conversationId: conv, accountId: newId('a'), inboxId: newId('in'), type: 'incoming', content: markerContent(12, 123456789.123, 4567),
        contentType: 'text', contentAttributes: {}, private: false, echoId: 'e12.4567', sourceId: null, status: 'sent',
        sender: { type: 'contact', id: newId('ct') }, createdAt: Date.now(), uid: newUid(), id: `${Date.now()}-0`,
      },
    },
  })
}

async function scriptCeiling(opts: CeilingsOptions, log: (s: string) => void, mode: RedisMode = { kind: 'single' }) {
  const redis = await startStore(mode)
  const clients = Array.from({ length: opts.connections }, (_, i) => redis.connect(`parley-bench-ceiling-${i}`))
  try {
    const accounts = appendAccounts(opts.partitions)
    const scripts = clients.map((c) => createScripts(c))
    const targets = await createTargets(scripts[0]!, accounts, opts.conversations)
    const stopTrim = trimEvents(redis.client, accounts)
    const load = appendLoad(scripts, targets, opts.inflight)
    const runFor = async (seconds: number) => {
      const cpu0 = process.cpuUsage()
      const nodes0 = await redis.sample()
      const { done, failed, seconds: secs } = await load(seconds)
      const cpu = process.cpuUsage(cpu0)
      const nodes = nodeFigures(nodes0, await redis.sample(), secs, done)
      return { perSec: done / secs, failed, redisCpu: mastersCpu(nodes), clientCpu: (cpu.user + cpu.system) / 1e6 / secs, nodes }
    }
    await runFor(1) // warm-up
    const runs = []
    for (let i = 0; i < opts.reps; i++) {
      const r = await quietly(opts, () => redis.pids(), log, () => runFor(opts.seconds))
      log(`script on ${redis.label}: ${Math.round(r.perSec)} appends/s, redis cpu ${r.redisCpu.toFixed(2)}, client cpu ${r.clientCpu.toFixed(2)}, foreign ${r.foreignCpu}`)
      if (mode.kind === 'cluster') log(`  per node: ${r.nodes.map((n) => `${n.role} :${n.port} ${n.cpu} cores ${n.usPerMsg} µs/msg${n.usPerOwnMsg === null ? '' : ` (${n.usPerOwnMsg} per own msg)`}, ${n.evalshaUsPerCall ?? '–'} µs/evalsha${n.role === 'master' ? ` (${Math.round(n.evalshaShare * 100)} % of appends)` : ''}`).join('; ')}`)
      runs.push(r)
    }
    stopTrim()
    const mid = [...runs].sort((a, b) => a.perSec - b.perSec)[Math.floor(runs.length / 2)]!
    return {
      redis: redis.label, partitions: accounts.length,
      ...(mode.kind === 'cluster' ? { nodes: mid.nodes, projection: projectedRate(mid.nodes, mid.perSec) } : {}),
      messagesPerSec: round(median(runs.map((r) => r.perSec))), runs: runs.map((r) => round(r.perSec)),
      failed: runs.reduce((s, r) => s + r.failed, 0), foreignCpu: round(Math.max(...runs.map((r) => r.foreignCpu)), 2),
      redisCpu: round(median(runs.map((r) => r.redisCpu)), 2), clientCpu: round(median(runs.map((r) => r.clientCpu)), 2),
      inflight: opts.inflight, redisConnections: opts.connections, conversations: opts.conversations,
    }
  } finally {
    for (const c of clients) c.disconnect()
    await redis.stop()
  }
}

async function publishCeiling(opts: CeilingsOptions, log: (s: string) => void) {
  const frameBytes = Buffer.byteLength(sampleEventFrame())
  const runs: { perSec: number; serverCpu: number; clientCpu: number; foreignCpu: number }[] = []
  for (let rep = 0; rep < opts.reps; rep++) runs.push(await quietly(opts, () => [], log, async () => {
    const server = fork(PUBLISHER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, PORT: '0' } })
    const procs: ReturnType<typeof fork>[] = []
    const foreign = foreignMeter(() => [server.pid ?? 0, ...procs.map((p) => p.pid ?? 0)])
    try {
      const port = await new Promise<number>((resolve, reject) => {
        server.once('message', (m: { port: number }) => resolve(m.port))
        server.once('exit', (c) => reject(new Error(`publisher exited with ${c}`)))
      })
      const per = Math.ceil(opts.clients / opts.clientProcs)
      await Promise.all(Array.from({ length: opts.clientProcs }, (_, i) => {
        const p = fork(CLIENTS, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
        procs.push(p)
        return new Promise<void>((resolve, reject) => {
          p.once('message', (m: { type: string; message?: string }) => (m.type === 'connected' ? resolve() : reject(new Error(m.message))))
          p.send({ type: 'connect', url: `ws://127.0.0.1:${port}/ws`, count: Math.min(per, opts.clients - i * per) })
        })
      }))
      server.send({ type: 'start', clients: opts.clients, frameBytes, window: opts.window } satisfies PublisherStart)
      await new Promise((r) => setTimeout(r, 1000))
      const cpu0 = procs.map((p) => cpuSeconds(p.pid ?? 0))
      server.send({ type: 'measure' })
      foreign.mark()
      await new Promise((r) => setTimeout(r, opts.seconds * 1000))
      const result = await new Promise<PublisherResult>((resolve) => {
        server.once('message', (m: PublisherResult) => resolve(m))
        server.send({ type: 'stop' })
      })
      const clientCpu = procs.reduce((s, p, i) => s + cpuSeconds(p.pid ?? 0) - (cpu0[i] ?? 0), 0) / result.seconds
      const r = { perSec: result.received / result.seconds, serverCpu: result.cpuSeconds / result.seconds, clientCpu, foreignCpu: foreign.read() }
      log(`publish: ${Math.round(r.perSec)} deliveries/s to ${opts.clients} clients, server cpu ${r.serverCpu.toFixed(2)}, clients cpu ${r.clientCpu.toFixed(2)}, foreign ${r.foreignCpu.toFixed(2)}`)
      return r
    } finally {
      for (const p of procs) if (p.connected) p.send({ type: 'close' })
      await Promise.all([server, ...procs].map((p) => new Promise<void>((resolve) => {
        if (p.exitCode !== null || p.signalCode !== null) return resolve()
        const timer = setTimeout(() => p.kill('SIGKILL'), 5000)
        p.once('exit', () => { clearTimeout(timer); resolve() })
      })))
    }
  }))
  return {
    foreignCpu: round(Math.max(...runs.map((r) => r.foreignCpu)), 2),
    deliveriesPerSec: round(median(runs.map((r) => r.perSec))), runs: runs.map((r) => round(r.perSec)),
    serverCpu: round(median(runs.map((r) => r.serverCpu)), 2), clientCpu: round(median(runs.map((r) => r.clientCpu)), 2),
    clients: opts.clients, clientProcs: opts.clientProcs, frameBytes, window: opts.window,
  }
}

export async function runCeilings(opts: CeilingsOptions): Promise<Record<string, unknown>> {
  const before = machine()
  const log = (s: string) => { if (opts.verbose) process.stderr.write(`[ceilings] ${s}\n`) }
  if (opts.waitQuiet) await waitQuiet(() => [], log)
  if (opts.redis.length !== 1 || opts.redis[0]?.kind !== 'single') return runScriptModes(opts, log, before)
  const script = await scriptCeiling(opts, log)
  const publish = await publishCeiling(opts, log)
  return {
    scenario: 'ceilings', mode: opts.mode, seconds: opts.seconds, reps: opts.reps, script, publish,
    foreignCpuMax: Math.max(script.foreignCpu, publish.foreignCpu),
    machine: { ...before, quiet: before.quiet.startsWith('quiet') ? otherLoad() : before.quiet },
  }
}

/** The script ceiling on each Redis mode in turn (the publish ceiling has no Redis in it). */
async function runScriptModes(opts: CeilingsOptions, log: (s: string) => void, before: ReturnType<typeof machine>): Promise<Record<string, unknown>> {
  const variants = []
  for (const mode of opts.redis) {
    if (opts.waitQuiet && variants.length > 0) await waitQuiet(() => [], log)
    log(`--- Redis: ${modeLabel(mode)}`)
    variants.push(await scriptCeiling(opts, log, mode))
  }
  const single = variants.find((v) => v.redis === 'single')
  return {
    scenario: 'ceilings-cluster', mode: opts.mode, seconds: opts.seconds, reps: opts.reps, partitions: opts.partitions,
    comparison: variants.map((v) => ({
      redis: v.redis, messagesPerSec: v.messagesPerSec, redisCpu: v.redisCpu, clientCpu: v.clientCpu,
      redisUsPerMsg: v.messagesPerSec > 0 ? round((v.redisCpu * 1e6) / v.messagesPerSec, 1) : null,
      vsSingle: single === undefined || single.messagesPerSec === 0 ? null : round(v.messagesPerSec / single.messagesPerSec, 2),
      masters: (v.nodes ?? []).filter((n: NodeFigures) => n.role === 'master').map((n: NodeFigures) => ({ port: n.port, cpu: n.cpu, usPerMsg: n.usPerMsg, usPerOwnMsg: n.usPerOwnMsg, evalshaShare: n.evalshaShare, evalshaUsPerCall: n.evalshaUsPerCall })),
      projection: v.projection ?? null,
    })),
    script: variants,
    foreignCpuMax: Math.max(...variants.map((v) => v.foreignCpu)),
    machine: { ...before, quiet: before.quiet.startsWith('quiet') ? otherLoad() : before.quiet },
  }
}

export function ceilingsModesSummary(f: Record<string, unknown>): string {
  const rows = f['comparison'] as { redis: string; messagesPerSec: number; redisCpu: number; clientCpu: number; redisUsPerMsg: number | null; masters: { usPerMsg: number; usPerOwnMsg: number | null; evalshaShare: number }[]; projection: { busiestBound: number; sumPerCore: number } | null }[]
  return rows.map((r) => `appendMessage on ${r.redis}: ${r.messagesPerSec} msg/s (redis cpu ${r.redisCpu}, client cpu ${r.clientCpu}, ${r.redisUsPerMsg ?? '–'} µs redis/msg` +
    (r.masters.length > 1 ? `; per master ${r.masters.map((m) => `${m.usPerOwnMsg ?? '–'} µs per own msg, ${Math.round(m.evalshaShare * 100)} %`).join(' / ')}` : '') +
    (r.projection === null ? '' : `; a core per master: ${r.projection.busiestBound} msg/s as split, ${r.projection.sumPerCore} evenly`) + ')')
    .join('; ') + `; ${String(f['partitions'])} partitions`
}

export function ceilingsSummary(f: Record<string, unknown>): string {
  const s = f['script'] as Record<string, number>
  const p = f['publish'] as Record<string, number>
  return `appendMessage alone: ${s['messagesPerSec']} msg/s (redis cpu ${s['redisCpu']}, client cpu ${s['clientCpu']}, ${s['inflight']} in flight); ` +
    `uWS publish alone: ${p['deliveriesPerSec']} deliveries/s of ${p['frameBytes']} B to ${p['clients']} clients (server cpu ${p['serverCpu']}, clients cpu ${p['clientCpu']})`
}

async function main(): Promise<void> {
  exitCleanlyOnSignals()
  const opts = ceilingsOptions(parseArgs(process.argv.slice(2), process.env))
  const figures = await runCeilings(opts)
  printLine(figures)
  if (opts.record) {
    const scenario = String(figures['scenario'])
    saveResults(scenario, figures)
    const m = figures['machine'] as ReturnType<typeof machine>
    appendRow(scenario, m, opts.mode, scenario === 'ceilings' ? ceilingsSummary(figures) : ceilingsModesSummary(figures), measuredLoad(figures, m))
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench ceilings failed: ${err instanceof Error ? err.stack : String(err)}\n`)
    process.exit(1)
  })
}
