// Scenario "chat": W widgets, one conversation each, in G inboxes; 2 agents per inbox see its
// conversations. Widgets send at a target aggregate rate (open loop, send time in the content);
// agents' receipt gives widget→agent latency. A step ramp finds the highest rate whose p99 stays
// under the bound with ≥ 99.9 % delivered and no errors; the same run drives the socket.io peer.
//   npm run bench:chat [-- --full] [--targets parley,socketio] [--codec msgpack] [--rates 1k,2k]
//     [--step-seconds 10] [--reps 3] [--bound-ms 50] [--conversations 2000] [--per-inbox 10]
//     [--generators 2] [--nodes 2] [--refine 2] [--aof] [--cpu-prof DIR] [--engine-main FILE]
//     [--wait-quiet] [--no-record]
//     [--redis single|cluster|cluster-wait|both[,…]] [--masters 3] [--replicas 0] [--partitions N]
// --redis other than `single`: Parley alone, once per Redis mode in turn (one instance, a local
// cluster, a cluster with REDIS_WAIT_REPLICAS=1), the inboxes dealt over accounts in N distinct
// partitions (default all DEFAULT_PARTITIONS, at most one per inbox; a plain run keeps one
// account), Redis CPU per message on each master, one JSON line comparing them ("chat-cluster").
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Codec, DriverName } from './gen/drivers.js'
import type { FromGenerator, LoadGroup, StepResult, ToGenerator } from './gen/chat-load.js'
import { exitCleanlyOnSignals } from './lib/stack.js'
import { parseArgs, type Args, type Mode } from './lib/args.js'
import { createHistogram, summarize } from './lib/histogram.js'
import { mastersCpu, nodeFigures, projectedRate, type NodeFigures } from './lib/nodestats.js'
import { cpuMeter, redisMemoryBytes, rssBytes } from './lib/procstat.js'
import { appendRow, machine, measuredLoad, median, otherLoad, printLine, round, saveResults } from './lib/report.js'
import { foreignMeter, QUIET_CORES, waitQuiet } from './lib/quiet.js'
import { DEFAULT_PARTITIONS } from '../lua/keys.js'
import { modeLabel, parseRedisModes, type RedisMode } from './lib/store.js'
import { startTarget, trimEvents, type Target } from './lib/targets.js'

const GENERATOR = fileURLToPath(new URL('./gen/chat-load.js', import.meta.url))

export type ChatOptions = {
  mode: Mode
  targets: DriverName[]
  codec: Codec
  rates: number[]
  stepSeconds: number
  reps: number
  boundMs: number
  minDeliveredPct: number
  conversations: number
  perInbox: number
  generators: number
  nodes: number
  refine: number
  graceMs: number
  aof: boolean
  cpuProfDir?: string
  /** an experimental engine main to run instead of dist/engine/main.js */
  engineMain?: string
  /** append to RESULTS.md and results/latest.json */
  record: boolean
  /** progress lines on stderr */
  verbose: boolean
  /** wait for a quiet machine before each rate, and redo a step that other processes disturbed */
  waitQuiet: boolean
  /** the Redis each run uses, in turn (default one instance) */
  redis: RedisMode[]
  /** Parley's inboxes dealt over accounts in this many distinct partitions */
  partitions: number
}

export function chatOptions(args: Args): ChatOptions {
  const full = args.mode === 'full'
  const prof = args.str('cpu-prof', '')
  const redis = parseRedisModes(args.str('redis', 'single'), { masters: args.num('masters', 3), replicas: args.num('replicas', 0) })
  const clusterRun = redis.some((m) => m.kind !== 'single')
  return {
    mode: args.mode,
    redis,
    partitions: args.num('partitions', clusterRun ? DEFAULT_PARTITIONS : 1),
    targets: args.str('targets', clusterRun ? 'parley' : 'parley,socketio').split(',').map((s) => s.trim()).filter((s): s is DriverName => s === 'parley' || s === 'socketio'),
    codec: args.str('codec', 'json') === 'msgpack' ? 'msgpack' : 'json',
    rates: args.list('rates', full ? [250, 500, 1000, 2000, 4000, 8000, 16000, 32000] : [500, 1000, 2000, 4000, 8000, 16000]),
    stepSeconds: args.num('step-seconds', full ? 10 : 3),
    reps: args.num('reps', full ? 3 : 1),
    boundMs: args.num('bound-ms', 50),
    minDeliveredPct: args.num('min-delivered', 99.9),
    conversations: args.num('conversations', full ? 2000 : 400),
    perInbox: args.num('per-inbox', 10),
    generators: args.num('generators', 2),
    nodes: args.num('nodes', 2),
    refine: args.num('refine', full ? 2 : 0),
    graceMs: args.num('grace-ms', 2000),
    aof: args.bool('aof'),
    ...(prof === '' ? {} : { cpuProfDir: prof }),
    ...(args.str('engine-main', '') === '' ? {} : { engineMain: args.str('engine-main', '') }),
    record: !args.bool('no-record'),
    verbose: !args.bool('silent'),
    waitQuiet: args.bool('wait-quiet') || (full && !args.bool('no-wait-quiet')),
  }
}

export type StepFigures = {
  rate: number; rep: number; sent: number; acked: number; errors: number; errorCodes: Record<string, number>
  expected: number; delivered: number; deliveredPct: number; echoes: number; late: number
  p50: number | null; p99: number | null; p999: number | null; max: number | null
  sentPerSec: number; deliveredPerSec: number; maxSendLagMs: number; genLoopDelayP99Ms: number; genLoopDelayMaxMs: number
  serverCpu: number; serverRssMB: number; redisCpu: number; generatorCpu: number
  /** CPU time per message sent (µs), a figure that does not depend on how busy the box is */
  serverUsPerMsg: number; redisUsPerMsg: number; generatorUsPerMsg: number
  /** cores busy in all: server + Redis + generators (the box has `nproc`) */
  totalCpu: number
  /** cores used meanwhile by processes that are not part of the run (should be ~0) */
  foreignCpu: number
  pass: boolean
  /** on a cluster: every node's Redis CPU (µs per message of the run), share and EVALSHA calls */
  redisNodes?: NodeFigures[]
}

/** Medians over the repetitions of one rate (a cluster's per-node figures: the median rep's). */
export type RateFigures = Omit<StepFigures, 'rep'> & { reps: number; p99s: (number | null)[] }

export type TargetFigures = {
  target: DriverName
  connections: { widgets: number; agents: number; setupSeconds: number; rssPerConnKB: number; baselineRssMB: number }
  maxRate: number | null
  atMax: RateFigures | null
  firstFail: RateFigures | null
  ramp: RateFigures[]
  equalLoad: RateFigures | null
  redisMemoryMB: number
}

type Gen = { proc: ChildProcess; next: (type: string) => Promise<FromGenerator> }

function startGenerator(): Gen {
  const proc = fork(GENERATOR, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const waiting: ((m: FromGenerator) => void)[] = []
  const inbox: FromGenerator[] = []
  let failure: Error | null = null
  proc.on('message', (m: FromGenerator) => {
    if (m.type === 'error') failure = new Error(`load generator ${proc.pid}: ${m.message}`)
    const w = waiting.shift()
    if (w !== undefined) w(m)
    else inbox.push(m)
  })
  proc.on('exit', (code) => {
    failure ??= new Error(`load generator ${proc.pid} exited with ${code}`)
    for (const w of waiting.splice(0)) w({ type: 'error', message: failure.message })
  })
  const next = async (type: string): Promise<FromGenerator> => {
    const m = inbox.shift() ?? (failure !== null ? { type: 'error' as const, message: (failure as Error).message } : await new Promise<FromGenerator>((r) => waiting.push(r)))
    if (m.type === 'error') throw new Error(m.message)
    if (m.type !== type) throw new Error(`load generator ${proc.pid}: expected ${type}, got ${m.type}`)
    return m
  }
  return { proc, next }
}

function log(opts: ChatOptions, text: string): void {
  if (opts.verbose) process.stderr.write(`[chat] ${text}\n`)
}

/** Runs one target through the ramp (and the equal-load step when `equalRate` is given). */
async function runTarget(opts: ChatOptions, name: DriverName, equalRateOf: (own: number | null) => number | null, redis: RedisMode): Promise<TargetFigures> {
  const groups = Math.max(1, Math.ceil(opts.conversations / opts.perInbox))
  const target: Target = await startTarget(name, {
    nodes: opts.nodes, groups, agentsPerGroup: 2, aof: opts.aof, redis, partitions: opts.partitions,
    ...(opts.cpuProfDir === undefined ? {} : { cpuProfDir: `${opts.cpuProfDir}/${name}` }),
    ...(opts.engineMain === undefined ? {} : { engineMain: opts.engineMain }),
  })
  const stopTrim = trimEvents(target)
  const gens: Gen[] = []
  try {
    const serverPids = () => target.servers.map((s) => s.pid)
    await new Promise((r) => setTimeout(r, 500))
    const baselineRss = serverPids().reduce((s, p) => s + rssBytes(p), 0)
    for (let i = 0; i < opts.generators; i++) gens.push(startGenerator())
    // whole inboxes per generator, so every latency sample is sent and received on one clock
    const shares: LoadGroup[][] = gens.map(() => [])
    let left = opts.conversations
    target.groups.forEach((g, i) => {
      const conversations = Math.min(opts.perInbox, left)
      left -= conversations
      shares[i % gens.length]!.push({ ...g, conversations })
    })
    const setupStart = performance.now()
    let offset = 0
    for (const [i, g] of gens.entries()) {
      const share = shares[i]!
      g.proc.send({ type: 'setup', driver: name, codec: opts.codec, urls: target.urls, groups: share, offset, concurrency: 32 } satisfies ToGenerator)
      offset += share.reduce((s, x) => s + x.conversations, 0)
    }
    let widgets = 0
    let agents = 0
    for (const g of gens) {
      const ready = await g.next('ready')
      if (ready.type === 'ready') { widgets += ready.widgets; agents += ready.agents }
    }
    const setupSeconds = (performance.now() - setupStart) / 1000
    await new Promise((r) => setTimeout(r, 1000))
    const connRss = serverPids().reduce((s, p) => s + rssBytes(p), 0)
    log(opts, `${name}: ${widgets} widgets + ${agents} agents on ${opts.nodes} nodes in ${setupSeconds.toFixed(1)} s`)

    let stepNo = 0
    const meter = cpuMeter(serverPids)
    const ours = () => [...serverPids(), ...target.redis.pids(), ...gens.map((g) => g.proc.pid ?? 0)]
    const foreign = foreignMeter(ours)
    const runStep = async (rate: number, rep: number): Promise<StepFigures> => {
      const step = ++stepNo
      meter.mark()
      foreign.mark()
      const redis0 = await target.redis.sample()
      const t0 = performance.now()
      for (const [i, g] of gens.entries()) {
        const share = rate / gens.length
        g.proc.send({ type: 'step', step, rate: share, durationMs: opts.stepSeconds * 1000, graceMs: opts.graceMs } satisfies ToGenerator)
        void i
      }
      const results: StepResult[] = []
      for (const g of gens) results.push((await g.next('stepDone')) as StepResult)
      const wall = (performance.now() - t0) / 1000
      for (const srv of target.servers) {
        if (srv.child.hasExited()) throw new Error(`${srv.name} (pid ${srv.pid}) exited during the step:\n${srv.child.tail()}`)
      }
      const serverCpu = meter.read()
      const foreignCpu = foreign.read()
      const redis1 = await target.redis.sample()
      const hist = createHistogram()
      let sent = 0, acked = 0, delivered = 0, echoes = 0, late = 0, lag = 0, genCpu = 0, loopP99 = 0, loopMax = 0
      const errorCodes: Record<string, number> = {}
      for (const r of results) {
        hist.merge(r.hist)
        sent += r.sent; acked += r.acked; delivered += r.delivered; echoes += r.echoes; late += r.late
        lag = Math.max(lag, r.maxSendLagMs)
        loopP99 = Math.max(loopP99, r.loopDelayP99Ms)
        loopMax = Math.max(loopMax, r.loopDelayMaxMs)
        genCpu += r.cpuSeconds / r.elapsedSeconds
        for (const [k, v] of Object.entries(r.errors)) errorCodes[k] = (errorCodes[k] ?? 0) + v
      }
      const errors = Object.values(errorCodes).reduce((s, v) => s + v, 0)
      const redisNodes = nodeFigures(redis0, redis1, wall, sent)
      const redisCpu = mastersCpu(redisNodes)
      const expected = sent * 2
      const s = summarize(hist)
      const deliveredPct = expected === 0 ? 0 : (delivered / expected) * 100
      const perMsg = (cores: number) => (sent === 0 ? 0 : round((cores * wall * 1e6) / sent, 1))
      const fig: StepFigures = {
        rate, rep, sent, acked, errors, errorCodes, expected, delivered, deliveredPct: round(deliveredPct, 3), echoes, late,
        p50: s.p50, p99: s.p99, p999: s.p999, max: s.max,
        sentPerSec: round(sent / opts.stepSeconds), deliveredPerSec: round(delivered / opts.stepSeconds),
        maxSendLagMs: round(lag, 1), genLoopDelayP99Ms: round(loopP99, 1), genLoopDelayMaxMs: round(loopMax, 1),
        serverCpu: round(serverCpu, 2), serverRssMB: round(target.servers.reduce((x, p) => x + rssBytes(p.pid), 0) / 1048576, 1),
        redisCpu: round(redisCpu, 2), generatorCpu: round(genCpu, 2),
        serverUsPerMsg: perMsg(serverCpu), redisUsPerMsg: perMsg(redisCpu), generatorUsPerMsg: perMsg(genCpu),
        totalCpu: round(serverCpu + redisCpu + genCpu, 2), foreignCpu: round(foreignCpu, 2),
        pass: s.p99 !== null && s.p99 <= opts.boundMs && deliveredPct >= opts.minDeliveredPct && errors === 0,
        ...(redis.kind === 'cluster' ? { redisNodes } : {}),
      }
      log(opts, `${name} ${rate}/s rep ${rep}: p50 ${fig.p50} p99 ${fig.p99} p99.9 ${fig.p999} ms, delivered ${fig.deliveredPct}%, errors ${errors}${errors > 0 ? ` ${JSON.stringify(errorCodes)}` : ''}, gen loop delay p99 ${fig.genLoopDelayP99Ms} max ${fig.genLoopDelayMaxMs} ms, cpu server ${fig.serverCpu} redis ${fig.redisCpu} gen ${fig.generatorCpu} (µs/msg ${fig.serverUsPerMsg}/${fig.redisUsPerMsg}/${fig.generatorUsPerMsg}), foreign ${fig.foreignCpu} → ${fig.pass ? 'pass' : 'FAIL'}`)
      if (redis.kind === 'cluster') log(opts, `  redis nodes: ${redisNodes.map((n) => `${n.role} :${n.port} ${n.cpu} cores ${n.usPerMsg} µs/msg${n.usPerOwnMsg === null ? '' : ` ${n.usPerOwnMsg} per own msg`}${n.role === 'master' ? ` (${Math.round(n.cpuShare * 100)} % cpu, ${Math.round(n.evalshaShare * 100)} % evalsha)` : ''}`).join(', ')}`)
      await new Promise((r) => setTimeout(r, 500))
      return fig
    }
    // after an overloaded step the servers may still be working off a backlog: wait until they idle
    const settle = async () => {
      const deadline = performance.now() + 30_000
      while (performance.now() < deadline) {
        meter.mark()
        await new Promise((r) => setTimeout(r, 1000))
        if (meter.read() < 0.15) return
      }
      log(opts, `${name}: servers still busy after 30 s of idling`)
    }
    const runRate = async (rate: number): Promise<RateFigures> => {
      const reps: StepFigures[] = []
      for (let rep = 1; rep <= opts.reps; rep++) {
        let fig = await runStep(rate, rep)
        for (let redo = 1; opts.waitQuiet && fig.foreignCpu > QUIET_CORES && redo <= 10; redo++) {
          log(opts, `${name} ${rate}/s rep ${rep}: other processes used ${fig.foreignCpu} cores meanwhile: redo ${redo} once the machine is quiet`)
          await settle()
          await waitQuiet(ours, (s) => log(opts, s))
          fig = await runStep(rate, rep)
        }
        if (!fig.pass) await settle()
        reps.push(fig)
      }
      return medianOf(reps, opts)
    }

    // warm-up (JIT, first messages of each conversation): not reported
    await runStep(Math.min(opts.rates[0] ?? 500, 500), 0)

    const ramp: RateFigures[] = []
    let atMax: RateFigures | null = null
    let firstFail: RateFigures | null = null
    for (const rate of opts.rates) {
      const r = await runRate(rate)
      ramp.push(r)
      if (r.pass) atMax = r
      else { firstFail = r; break }
    }
    // bisect between the last pass and the first failure
    for (let i = 0; i < opts.refine && firstFail !== null; i++) {
      const lo = atMax?.rate ?? 0
      const rate = Math.round((lo + firstFail.rate) / 2 / 50) * 50
      if (rate <= lo || rate >= firstFail.rate) break
      const r = await runRate(rate)
      ramp.push(r)
      if (r.pass) atMax = r
      else firstFail = r
    }
    ramp.sort((a, b) => a.rate - b.rate)

    let equalLoad: RateFigures | null = null
    const equalRate = equalRateOf(atMax?.rate ?? null)
    if (equalRate !== null && equalRate > 0) equalLoad = await runRate(equalRate)

    return {
      target: name,
      connections: {
        widgets, agents, setupSeconds: round(setupSeconds, 1), baselineRssMB: round(baselineRss / 1048576, 1),
        rssPerConnKB: round((connRss - baselineRss) / (widgets + agents) / 1024, 2),
      },
      maxRate: atMax?.rate ?? null, atMax, firstFail, ramp, equalLoad,
      redisMemoryMB: round((await Promise.all(target.redis.nodes.filter((n) => n.role === 'master').map((n) => redisMemoryBytes(n.conn)))).reduce((a, b) => a + b, 0) / 1048576, 1),
    }
  } finally {
    stopTrim()
    for (const g of gens) {
      if (g.proc.connected) g.proc.send({ type: 'close' } satisfies ToGenerator)
    }
    await Promise.all(gens.map((g) => new Promise<void>((resolve) => {
      if (g.proc.exitCode !== null || g.proc.signalCode !== null) return resolve()
      const timer = setTimeout(() => g.proc.kill('SIGKILL'), 5000)
      g.proc.once('exit', () => { clearTimeout(timer); resolve() })
    })))
    await target.stop()
  }
}

function medianOf(reps: StepFigures[], opts: ChatOptions): RateFigures {
  const m = (f: (s: StepFigures) => number | null) => {
    const vals = reps.map(f).filter((v): v is number => v !== null)
    return vals.length === 0 ? null : round(median(vals), 3)
  }
  const n = (f: (s: StepFigures) => number) => round(median(reps.map(f)), 3)
  const p99 = m((s) => s.p99)
  const medianRep = [...reps].sort((a, b) => a.sentPerSec - b.sentPerSec)[Math.floor(reps.length / 2)]
  const deliveredPct = n((s) => s.deliveredPct)
  const errors = n((s) => s.errors)
  const errorCodes: Record<string, number> = {}
  for (const r of reps) for (const [k, v] of Object.entries(r.errorCodes)) errorCodes[k] = (errorCodes[k] ?? 0) + v
  return {
    rate: reps[0]?.rate ?? 0, reps: reps.length, p99s: reps.map((s) => s.p99), errorCodes,
    sent: n((s) => s.sent), acked: n((s) => s.acked), errors, expected: n((s) => s.expected), delivered: n((s) => s.delivered),
    deliveredPct, echoes: n((s) => s.echoes), late: n((s) => s.late),
    p50: m((s) => s.p50), p99, p999: m((s) => s.p999), max: m((s) => s.max),
    sentPerSec: n((s) => s.sentPerSec), deliveredPerSec: n((s) => s.deliveredPerSec), maxSendLagMs: n((s) => s.maxSendLagMs),
    genLoopDelayP99Ms: n((s) => s.genLoopDelayP99Ms), genLoopDelayMaxMs: n((s) => s.genLoopDelayMaxMs),
    serverCpu: n((s) => s.serverCpu), serverRssMB: n((s) => s.serverRssMB), redisCpu: n((s) => s.redisCpu), generatorCpu: n((s) => s.generatorCpu),
    serverUsPerMsg: n((s) => s.serverUsPerMsg), redisUsPerMsg: n((s) => s.redisUsPerMsg), generatorUsPerMsg: n((s) => s.generatorUsPerMsg),
    totalCpu: n((s) => s.totalCpu), foreignCpu: n((s) => s.foreignCpu),
    pass: p99 !== null && p99 <= opts.boundMs && deliveredPct >= opts.minDeliveredPct && errors === 0,
    ...(medianRep?.redisNodes === undefined ? {} : { redisNodes: medianRep.redisNodes }),
  }
}

export async function runChat(opts: ChatOptions): Promise<Record<string, unknown>> {
  const only = opts.redis[0]
  if (opts.redis.length === 1 && only?.kind === 'single') return runChatOn(opts, only)
  return runChatModes(opts)
}

/** The chat scenario on one Redis mode: the peer, if asked, only on one instance. */
async function runChatOn(opts: ChatOptions, redis: RedisMode): Promise<Record<string, unknown>> {
  const started = Date.now()
  const before = machine()
  // the peer first: its highest rate sets the equal-load point (50 %) for both systems
  const order = [...opts.targets].sort((a, b) => (a === 'socketio' ? -1 : 0) - (b === 'socketio' ? -1 : 0))
  const results: Partial<Record<DriverName, TargetFigures>> = {}
  let peerMax: number | null = null
  for (const name of order) {
    if (opts.waitQuiet) await waitQuiet(() => [], (s) => log(opts, s))
    const both = opts.targets.includes('socketio') && opts.targets.includes('parley')
    const fig = await runTarget(opts, name, (own) => {
      if (!both) return null
      // a peer that fails even the lowest rate is compared at half of that rate
      if (name === 'socketio') return Math.round((own ?? (opts.rates[0] ?? 250) / 2) / 2)
      return peerMax === null ? null : Math.round(peerMax / 2)
    }, redis)
    if (name === 'socketio') peerMax = fig.maxRate
    results[name] = fig
  }
  const p = results.parley
  const s = results.socketio
  const ratio = (a: number | null | undefined, b: number | null | undefined, digits = 2) =>
    a === null || a === undefined || b === null || b === undefined || b === 0 ? null : round(a / b, digits)
  const figures: Record<string, unknown> = {
    scenario: 'chat', redis: modeLabel(redis), mode: opts.mode, codec: opts.codec, boundMs: opts.boundMs, minDeliveredPct: opts.minDeliveredPct,
    conversations: opts.conversations, perInbox: opts.perInbox, agentsPerInbox: 2, nodes: opts.nodes, generators: opts.generators,
    stepSeconds: opts.stepSeconds, reps: opts.reps, aof: opts.aof, partitions: opts.partitions,
    parley: p ?? null, socketio: s ?? null,
    ratios: {
      maxRate: ratio(p?.maxRate, s?.maxRate),
      /** peer p99 / Parley p99 at 50 % of the peer's max: higher is better for Parley */
      p99AtEqualLoad: ratio(s?.equalLoad?.p99, p?.equalLoad?.p99),
      /** Parley / peer server RSS per connection: lower is better for Parley */
      rssPerConn: ratio(p?.connections.rssPerConnKB, s?.connections.rssPerConnKB),
    },
    foreignCpuMax: Math.max(0, ...[p, s].flatMap((x) => x === undefined ? [] : [...x.ramp, ...(x.equalLoad === null ? [] : [x.equalLoad])]).map((r) => r.foreignCpu)),
    seconds: round((Date.now() - started) / 1000),
    machine: { ...before, quiet: before.quiet.startsWith('quiet') ? otherLoad() : before.quiet },
  }
  return figures
}

/** Parley on each Redis mode in turn, minutes apart on the same box: one line that compares them. */
async function runChatModes(opts: ChatOptions): Promise<Record<string, unknown>> {
  const started = Date.now()
  const before = machine()
  const variants: Record<string, unknown>[] = []
  for (const redis of opts.redis) {
    log(opts, `--- Redis: ${modeLabel(redis)}`)
    const targets = opts.targets.filter((t) => t === 'parley' || redis.kind === 'single')
    variants.push(await runChatOn({ ...opts, targets }, redis))
  }
  return {
    scenario: 'chat-cluster', mode: opts.mode, codec: opts.codec, boundMs: opts.boundMs, conversations: opts.conversations,
    partitions: Math.min(opts.partitions, Math.ceil(opts.conversations / opts.perInbox)),
    nodes: opts.nodes, generators: opts.generators, stepSeconds: opts.stepSeconds, reps: opts.reps,
    comparison: variants.map(chatModeRow), variants,
    foreignCpuMax: Math.max(0, ...variants.map((v) => Number(v['foreignCpuMax'] ?? 0))),
    seconds: round((Date.now() - started) / 1000),
    machine: { ...before, quiet: before.quiet.startsWith('quiet') ? otherLoad() : before.quiet },
  }
}

/** One Redis mode's Parley figures in brief: max rate, Redis CPU per message on each master, p99 by rate (WAIT's cost). */
export function chatModeRow(v: Record<string, unknown>): Record<string, unknown> {
  const p = v['parley'] as TargetFigures | null
  // the per-master figures at the highest passing rate (at the first failing one when none passed)
  const at = p?.atMax ?? p?.firstFail ?? null
  const nodes = at?.redisNodes ?? []
  return {
    redis: v['redis'], maxRate: p?.maxRate ?? null, p99AtMax: p?.atMax?.p99 ?? null, figuresAtRate: at?.rate ?? null,
    serverUsPerMsg: at?.serverUsPerMsg ?? null, redisUsPerMsg: at?.redisUsPerMsg ?? null, redisCpu: at?.redisCpu ?? null,
    masters: nodes.filter((n) => n.role === 'master').map((n) => ({ port: n.port, cpu: n.cpu, usPerMsg: n.usPerMsg, usPerOwnMsg: n.usPerOwnMsg, cpuShare: n.cpuShare, evalshaShare: n.evalshaShare })),
    replicasCpu: round(nodes.filter((n) => n.role === 'replica').reduce((s, n) => s + n.cpu, 0), 3),
    /** Redis alone: what the masters would carry each on a core (engines need cores of their own besides) */
    redisProjection: at === null || nodes.length === 0 ? null : projectedRate(nodes, at.sentPerSec),
    p99ByRate: Object.fromEntries((p?.ramp ?? []).map((r) => [r.rate, r.p99])),
  }
}

export function chatModesSummary(f: Record<string, unknown>): string {
  const rows = f['comparison'] as Record<string, unknown>[]
  return rows.map((r) => {
    const masters = (r['masters'] as { usPerOwnMsg: number | null; cpuShare: number }[])
    const per = masters.length > 1 ? `, per master ${masters.map((m) => `${m.usPerOwnMsg ?? '–'} µs per own msg (${Math.round(m.cpuShare * 100)} % of cpu)`).join(' / ')}` : ''
    const p99s = Object.entries(r['p99ByRate'] as Record<string, number | null>).map(([rate, p99]) => `${rate}/s ${p99 ?? '–'} ms`).join(', ')
    return `${String(r['redis'])}: max ${String(r['maxRate'] ?? '<min')}/s (p99 ${String(r['p99AtMax'] ?? '–')} ms, redis ${String(r['redisUsPerMsg'] ?? '–')} µs/msg${per}); p99 by rate ${p99s}`
  }).join('; ') + `; ${String(f['conversations'])} conversations, ${String(f['reps'])}× ${String(f['stepSeconds'])} s steps`
}

export function chatSummary(f: Record<string, unknown>): string {
  const t = (x: unknown) => x as TargetFigures | null
  const part = (name: string, x: TargetFigures | null) => x === null ? '' :
    `${name}: max ${x.maxRate ?? '<min'}/s (p99 ${x.atMax?.p99 ?? '–'} ms, p99.9 ${x.atMax?.p999 ?? '–'} ms, ${x.atMax?.deliveredPct ?? '–'}% delivered, ${x.atMax?.deliveredPerSec ?? '–'} deliveries/s, server cpu ${x.atMax?.serverCpu ?? '–'}, redis cpu ${x.atMax?.redisCpu ?? '–'})` +
    `${x.firstFail === null ? '' : `; fails at ${x.firstFail.rate}/s (p99 ${x.firstFail.p99} ms, ${x.firstFail.deliveredPct}%)`}` +
    `${x.equalLoad === null ? '' : `; at ${x.equalLoad.rate}/s p99 ${x.equalLoad.p99} ms`}; ${x.connections.rssPerConnKB} KB RSS/conn` +
    `; other processes ≤ ${Math.max(0, ...[...x.ramp, ...(x.equalLoad === null ? [] : [x.equalLoad])].map((r) => r.foreignCpu))} cores`
  const r = f['ratios'] as Record<string, number | null>
  return [part('Parley', t(f['parley'])), part('socket.io', t(f['socketio'])),
    `ratios: max rate ×${r['maxRate'] ?? '–'}, p99 at equal load peer/Parley ×${r['p99AtEqualLoad'] ?? '–'}, RSS/conn Parley/peer ×${r['rssPerConn'] ?? '–'}`,
    `${f['codec']}, ${f['conversations']} conversations, bound ${f['boundMs']} ms, ${f['reps']}× ${f['stepSeconds']} s steps`,
  ].filter((x) => x !== '').join('; ')
}

async function main(): Promise<void> {
  exitCleanlyOnSignals()
  const args = parseArgs(process.argv.slice(2), process.env)
  const opts = chatOptions(args)
  const figures = await runChat(opts)
  printLine(figures)
  if (opts.record) {
    const scenario = String(figures['scenario'])
    saveResults(scenario, figures)
    const m = figures['machine'] as ReturnType<typeof machine>
    appendRow(scenario, m, opts.mode, scenario === 'chat' ? chatSummary(figures) : chatModesSummary(figures), measuredLoad(figures, m))
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench chat failed: ${err instanceof Error ? err.stack : String(err)}\n`)
    process.exit(1)
  })
}
