// Scenario "connections": how many idle widget connections one box holds, what each costs in
// server RSS, and how fast they connect. The engine runs with WORKERS=n (one port, SO_REUSEPORT)
// because a process here may hold at most `ulimit -n` (20,000) open files; the holders are
// several processes, each from its own loopback source address (127.N.phase.x, N new per run:
// a bound source address picks its port before it knows the destination, slowly when thousands
// of a previous run's are in TIME_WAIT, which measured the client, not the server).
//   npm run bench:connections [-- --full] [--connections 100000] [--workers 7] [--holders 6]
//     [--concurrency 200] [--cpu-prof DIR] [--no-record]
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { HoldMsg, HoldResult, ResumeMsg } from './gen/idle-load.js'
import { parseArgs, type Args, type Mode } from './lib/args.js'
import { diffPerConnection, removeSnapshot, summarizeSnapshot, takeSnapshot } from './lib/heap.js'
import { childPids, cpuMeter, redisMemoryBytes, rssBytes } from './lib/procstat.js'
import { foreignMeter, waitQuiet } from './lib/quiet.js'
import { appendRow, machine, measuredLoad, otherLoad, printLine, round, saveResults } from './lib/report.js'
import { startBenchRedis, startEngine, stopAll, type Proc, exitCleanlyOnSignals } from './lib/stack.js'
import { createGroups } from './lib/tenant.js'

const HOLDER = fileURLToPath(new URL('./gen/idle-load.js', import.meta.url))
const PER_PROCESS = 18_000

export type ConnectionsOptions = {
  mode: Mode; connections: number; workers: number; holders: number; concurrency: number; settleMs: number; record: boolean; verbose: boolean
  /** heap snapshots of one worker before and after (analysis runs: the snapshots disturb RSS) */
  heap: boolean
  /** V8 CPU profiles of the engine's processes into this directory (bench/profile.ts reads them) */
  cpuProfDir: string | null
  waitQuiet: boolean
}

export function connectionsOptions(args: Args): ConnectionsOptions {
  const connections = args.num('connections', args.mode === 'full' ? 100_000 : 10_000)
  return {
    mode: args.mode,
    connections,
    workers: args.num('workers', Math.max(2, Math.ceil(connections / 15_000))),
    holders: args.num('holders', Math.max(2, Math.ceil(connections / PER_PROCESS))),
    concurrency: args.num('concurrency', 100),
    settleMs: args.num('settle-ms', 5000),
    record: !args.bool('no-record'),
    verbose: !args.bool('silent'),
    heap: args.bool('heap'),
    cpuProfDir: args.str('cpu-prof', '') === '' ? null : args.str('cpu-prof', ''),
    waitQuiet: args.bool('wait-quiet') || (args.mode === 'full' && !args.bool('no-wait-quiet')),
  }
}

function openFiles(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return 0
  }
}

export async function runConnections(opts: ConnectionsOptions): Promise<Record<string, unknown>> {
  const before = machine()
  const log = (s: string) => { if (opts.verbose) process.stderr.write(`[connections] ${s}\n`) }
  const perHolder = Math.ceil(opts.connections / opts.holders)
  /** this run's loopback network: 127.<net>.<phase>.<holder> */
  const net = 1 + Math.floor(Math.random() * 254)
  if (perHolder > PER_PROCESS) throw new Error(`${perHolder} connections per holder is over ${PER_PROCESS}: use more --holders`)
  if (opts.waitQuiet) await waitQuiet(() => [], log)
  const redis = await startBenchRedis()
  const stoppers: { stop(): Promise<void> }[] = [redis]
  const holders: ChildProcess[] = []
  try {
    const heapDir = opts.heap ? mkdtempSync(join(tmpdir(), 'parley-bench-heap-')) : null
    if (heapDir !== null) stoppers.push({ stop: async () => rmSync(heapDir, { recursive: true, force: true }) })
    const nodeArgs = [
      ...(heapDir === null ? [] : ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${heapDir}`]),
      ...(opts.cpuProfDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`]),
    ]
    const engine: Proc = await startEngine(redis.url, { env: { WORKERS: String(opts.workers) }, nodeArgs })
    stoppers.push(engine)
    // WORKERS=1 is a plain engine process; above that its children are the workers
    const deadline = Date.now() + 30_000
    while (opts.workers > 1 && childPids(engine.pid).length < opts.workers && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    const workers = opts.workers > 1 ? childPids(engine.pid) : [engine.pid]
    const { groups } = await createGroups(engine.http, 1, 0)
    const token = groups[0]!.websiteToken
    // every worker has served requests and settled before the baseline is taken
    for (let i = 0; i < 200; i++) await (await fetch(`${engine.http}/readyz`)).arrayBuffer()
    await new Promise((r) => setTimeout(r, 2000))
    const baseline = workers.reduce((s, p) => s + rssBytes(p), 0)
    const redisBaseline = await redisMemoryBytes(redis.client)
    log(`${workers.length} workers on port ${engine.port}, baseline RSS ${round(baseline / 1048576, 1)} MB; connecting ${opts.connections} from ${opts.holders} processes`)

    let heapBefore: ReturnType<typeof summarizeSnapshot> | null = null
    const heapFiles0 = openFiles(workers[0] ?? 0)
    if (heapDir !== null) {
      const file = await takeSnapshot(workers[0] ?? 0, heapDir)
      heapBefore = summarizeSnapshot(file)
      removeSnapshot(file)
    }
    const meter = cpuMeter(() => workers)
    const foreign = foreignMeter(() => [redis.pid, engine.pid, ...workers, ...holders.map((h) => h.pid ?? 0)])
    const started = performance.now()
    const results = await Promise.all(Array.from({ length: opts.holders }, (_, i) => {
      const count = Math.min(perHolder, opts.connections - i * perHolder)
      const proc = fork(HOLDER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      holders.push(proc)
      return new Promise<HoldResult>((resolve, reject) => {
        proc.once('message', (m: HoldResult) => resolve(m))
        proc.once('exit', (code) => reject(new Error(`holder exited with ${code}`)))
        proc.send({
          type: 'hold', url: `${engine.ws}/ws/widget?website_token=${encodeURIComponent(token)}`, count: Math.max(0, count),
          localAddress: `127.${net}.0.${2 + i}`, concurrency: Math.max(1, Math.round(opts.concurrency / opts.holders)),
        } satisfies HoldMsg)
      })
    }))
    const connectSeconds = (performance.now() - started) / 1000
    const connectCpu = meter.read()
    const connectForeignCpu = foreign.read()
    const connected = results.reduce((s, r) => s + r.connected, 0)
    const failed = results.reduce((s, r) => s + r.failed, 0)
    log(`${connected} connected (${failed} failed${failed > 0 ? `: ${results.find((r) => r.firstError !== null)?.firstError}` : ''}) in ${connectSeconds.toFixed(1)} s`)
    await new Promise((r) => setTimeout(r, opts.settleMs))
    const perWorker = workers.map((p) => ({ pid: p, rssMB: round(rssBytes(p) / 1048576, 1), openFiles: openFiles(p) }))
    const rss = workers.reduce((s, p) => s + rssBytes(p), 0)
    const idleMeter = cpuMeter(() => workers)
    await new Promise((r) => setTimeout(r, 3000))
    const idleCpu = idleMeter.read()
    const redisMem = await redisMemoryBytes(redis.client)
    const holderRss = results.reduce((s, r) => s + r.rssBytes, 0)
    let heap: ReturnType<typeof diffPerConnection> & { connections: number } | null = null
    if (heapDir !== null && heapBefore !== null) {
      const onWorker = openFiles(workers[0] ?? 0) - heapFiles0
      const file = await takeSnapshot(workers[0] ?? 0, heapDir)
      heap = { connections: onWorker, ...diffPerConnection(heapBefore, summarizeSnapshot(file), Math.max(1, onWorker)) }
      removeSnapshot(file)
      log(`heap of worker 0 (${onWorker} connections): ${heap.heapBytesPerConn} B/conn live JS heap; ${heap.top.slice(0, 6).map((r) => `${r.name} ${r.bytesPerConn} B`).join(', ')}`)
    }
    // a reconnect storm of returning visitors: every holder drops its sockets, then opens each
    // again with its session (no new contact, the open conversation read back)
    const resumeMeter = cpuMeter(() => workers)
    const resumeStarted = performance.now()
    const resumed = await Promise.all(holders.map((proc, i) => new Promise<HoldResult>((resolve) => {
      proc.once('message', (m: HoldResult) => resolve(m))
      proc.send({
        type: 'resume', concurrency: Math.max(1, Math.round(opts.concurrency / opts.holders)),
        // fresh source addresses: the first connect's ports are in TIME_WAIT
        localAddress: `127.${net}.1.${2 + i}`,
      } satisfies ResumeMsg)
    })))
    // each holder waits 1 s for the closes before it reconnects: its own clock says how long the storm took
    const resumeSeconds = Math.max(...resumed.map((r) => r.seconds), 1e-9)
    const resumeCpu = resumeMeter.read()
    const resumedCount = resumed.reduce((s, r) => s + r.connected, 0)
    const resumeFailed = resumed.reduce((s, r) => s + r.failed, 0)
    log(`${resumedCount} resumed with their session (${resumeFailed} failed) in ${resumeSeconds.toFixed(1)} s (${((performance.now() - resumeStarted) / 1000).toFixed(1)} s with the closes)`)
    const figures: Record<string, unknown> = {
      scenario: 'connections', mode: opts.mode, target: opts.connections, connected, failed,
      firstError: results.find((r) => r.firstError !== null)?.firstError ?? null,
      workers: workers.length, holders: opts.holders,
      connectSeconds: round(connectSeconds, 1), connectPerSec: round(connected / connectSeconds),
      connectServerCpu: round(connectCpu, 2), connectForeignCpu: round(connectForeignCpu, 2), foreignCpuMax: round(connectForeignCpu, 2),
      baselineRssMB: round(baseline / 1048576, 1), rssMB: round(rss / 1048576, 1),
      rssPerConnBytes: connected === 0 ? null : round((rss - baseline) / connected),
      idleServerCpu: round(idleCpu, 3),
      resumed: resumedCount, resumeFailed, resumeSeconds: round(resumeSeconds, 1), resumePerSec: round(resumedCount / resumeSeconds),
      resumeServerCpu: round(resumeCpu, 2),
      resumeFirstError: resumed.find((r) => r.firstError !== null)?.firstError ?? null,
      redisBytesPerConn: connected === 0 ? null : round((redisMem - redisBaseline) / connected),
      holderRssPerConnBytes: connected === 0 ? null : round(holderRss / connected),
      perWorker,
      ...(heap === null ? {} : { heap }),
      machine: { ...before, quiet: before.quiet.startsWith('quiet') ? otherLoad() : before.quiet },
    }
    return figures
  } finally {
    for (const h of holders) if (h.connected) h.send({ type: 'close' })
    await Promise.all(holders.map((h) => new Promise<void>((resolve) => {
      if (h.exitCode !== null || h.signalCode !== null) return resolve()
      const timer = setTimeout(() => h.kill('SIGKILL'), 10_000)
      h.once('exit', () => { clearTimeout(timer); resolve() })
    })))
    await stopAll(stoppers)
  }
}

export function connectionsSummary(f: Record<string, unknown>): string {
  return `${f['connected']}/${f['target']} idle widget connections (${f['failed']} failed) on ${f['workers']} workers; ` +
    `${f['rssPerConnBytes']} B server RSS/conn (${f['baselineRssMB']} → ${f['rssMB']} MB); connect ${f['connectPerSec']}/s ` +
    `(server cpu ${f['connectServerCpu']}); resumed with session ${f['resumePerSec']}/s (${f['resumeFailed']} failed); ` +
    `idle server cpu ${f['idleServerCpu']}; redis ${f['redisBytesPerConn']} B/conn`
}

async function main(): Promise<void> {
  exitCleanlyOnSignals()
  const opts = connectionsOptions(parseArgs(process.argv.slice(2), process.env))
  const figures = await runConnections(opts)
  printLine(figures)
  if (opts.record) {
    saveResults('connections', figures)
    const m = figures['machine'] as ReturnType<typeof machine>
    appendRow('connections', m, opts.mode, connectionsSummary(figures), measuredLoad(figures, m))
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench connections failed: ${err instanceof Error ? err.stack : String(err)}\n`)
    process.exit(1)
  })
}
