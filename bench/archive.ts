// Scenario "archive": how fast the archiver moves the partition streams into PostgreSQL, and the
// ceiling it is quoted against, on this machine.
//   drain   N messages appended through the real appendMessage script (pipelined, many in flight,
//           C conversations spread over all 16 partitions) before the archiver starts; then the
//           archiver process (dist/archiver/main.js, BATCH_SIZE default unless --batch-size) starts
//           and the clock runs from its "consuming" log line until every entry is committed and
//           acknowledged → messages/s and rows/s (all tables), the lag curve from its /metrics
//   steady  the archiver running while messages are appended at R msg/s for S s → lag p50/p99/max
//   copy    the drain's message rows, exported with COPY TO and COPY'd back FROM STDIN into the
//           truncated messages table (same columns, same content, same partitions and indexes),
//           on 1 and on nproc connections → rows/s; archive/COPY ratio
// Lag is parley_archiver_lag_ms (age of the oldest unacknowledged entry), max over partitions,
// scraped every 250 ms. CPU: the archiver and the whole PostgreSQL cluster from /proc, Redis
// from INFO. PostgreSQL runs with its default durability (fsync, synchronous_commit on).
//   npm run bench:archive [-- --full] [--messages 20000] [--conversations 200] [--rate 2000]
//     [--steady-seconds 10] [--batch-size N] [--copy-streams 1,2] [--fast-pg] [--cpu-prof-dir DIR] [--no-record]
import { once } from 'node:events'
import { availableParallelism } from 'node:os'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Redis } from 'ioredis'
import postgres, { type Sql } from 'postgres'
import { runMigrations } from '../archiver/migrate.js'
import { groups, GROUP } from '../archiver/streams.js'
import { sleep, spawnManaged, describeExit, type ManagedChild } from '../engine/embedded/child.js'
import { freePort } from '../engine/embedded/ports.js'
import { newId, newUid } from '../engine/ids.js'
import { keysFor, partitionOf, type PartitionKeys } from '../lua/keys.js'
import { appendMessageCall, createConversationCall, createScripts, type Scripts } from '../lua/scripts.js'
import { clusterCpuSeconds, startBenchPostgres, type BenchPostgres } from './archive-pg.js'
import { parseArgs, type Args, type Mode } from './lib/args.js'
import { childPids, cpuSeconds, redisCpuSeconds } from './lib/procstat.js'
import { foreignMeter, waitQuiet } from './lib/quiet.js'
import { appendRow, machine, otherLoad, printLine, ROOT, round, saveResults } from './lib/report.js'
import { startBenchRedis, stopAll, type BenchRedis } from './lib/stack.js'

const ARCHIVER_MAIN = fileURLToPath(new URL('../archiver/main.js', import.meta.url))
const PARTITIONS = 16
/** archiver/config.ts's BATCH_SIZE default */
const DEFAULT_BATCH_SIZE = 500
const MESSAGE_COLUMNS = 'uid, stream_id, conversation_id, account_id, inbox_id, type, content, content_type, content_attributes, ' +
  'private, echo_id, source_id, status, sender_type, sender_id, created_at'
const FAST_PG = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' }

export type ArchiveOptions = {
  mode: Mode; messages: number; conversations: number; inflight: number; connections: number
  rate: number; steadySeconds: number; pollMs: number; batchSize: number | null; copyStreams: number[]
  /** share of messages that are agent replies (the rest come from the contact) */
  agentShare: number
  fastPg: boolean; record: boolean; verbose: boolean; waitQuiet: boolean
  /** write a V8 CPU profile of the archiver here (node --cpu-prof) */
  cpuProfDir: string | null
}

export function archiveOptions(args: Args): ArchiveOptions {
  const full = args.mode === 'full'
  const batch = args.num('batch-size', 0)
  return {
    mode: args.mode,
    messages: args.num('messages', full ? 200_000 : 20_000),
    conversations: args.num('conversations', 200),
    inflight: args.num('inflight', 256),
    connections: args.num('redis-connections', 2),
    rate: args.num('rate', 2000),
    steadySeconds: args.num('steady-seconds', 10),
    pollMs: args.num('poll-ms', 250),
    batchSize: batch > 0 ? batch : null,
    copyStreams: args.list('copy-streams', [...new Set([1, Math.min(4, availableParallelism())])]),
    agentShare: args.num('agent-share', 0.4),
    fastPg: args.bool('fast-pg'),
    cpuProfDir: args.str('cpu-prof-dir', '') || null,
    record: !args.bool('no-record'),
    verbose: !args.bool('silent'),
    waitQuiet: args.bool('wait-quiet') || (full && !args.bool('no-wait-quiet')),
  }
}

// ---- the messages -------------------------------------------------------------------------------

const WORDS = ('hi hello thanks thank you please order refund shipping delivery tracking number account password reset ' +
  'login email invoice payment card charged twice subscription plan upgrade cancel return label package arrived damaged ' +
  'size colour color exchange discount code coupon expired help support agent question issue problem fixed working ' +
  'not yet still waiting today tomorrow monday week days address change update sorry for the delay I can see that your ' +
  'we have it is was will be could would should my our this that there here when where how what why can').split(' ')

/** Chat-like text: mostly short lines, a long tail (exponential word count, 2 to 80 words). */
function sentence(): string {
  const n = Math.min(80, 2 + Math.floor(-Math.log(1 - Math.random()) * 12))
  const words: string[] = []
  for (let i = 0; i < n; i++) words.push(WORDS[Math.floor(Math.random() * WORDS.length)]!)
  const text = words.join(' ')
  return `${text[0]!.toUpperCase()}${text.slice(1)}${Math.random() < 0.3 ? '?' : '.'}`
}

type Conv = { id: string; accountId: string; inboxId: string; contactId: string; agentId: string; k: PartitionKeys }

/** One account per partition (so every partition stream carries load), C conversations over them. */
async function createConversations(scripts: Scripts, count: number): Promise<Conv[]> {
  const accounts: (string | undefined)[] = new Array(PARTITIONS)
  let missing = PARTITIONS
  while (missing > 0) {
    const id = newId('a')
    const p = partitionOf(id, PARTITIONS)
    if (accounts[p] === undefined) {
      accounts[p] = id
      missing--
    }
  }
  const inboxes = accounts.map(() => newId('in'))
  const agents = accounts.map(() => newId('ag'))
  const convs: Conv[] = []
  for (let i = 0; i < count; i++) {
    const p = i % PARTITIONS
    const c: Conv = { id: newId('cv'), accountId: accounts[p]!, inboxId: inboxes[p]!, contactId: newId('ct'), agentId: agents[p]!, k: keysFor(p) }
    const r = await scripts.run(createConversationCall(c.k, {
      id: c.id, accountId: c.accountId, inboxId: c.inboxId, contactId: c.contactId, now: Date.now(), uid: newUid(), additionalAttributes: '{}',
    }))
    if (r[0] !== 1) throw new Error(`createConversation replied ${JSON.stringify(r[0])}`)
    convs.push(c)
  }
  return convs
}

function appendOne(scripts: Scripts, c: Conv, n: number, agentShare: number): Promise<unknown[]> {
  const agent = Math.random() < agentShare
  return scripts.run(appendMessageCall(c.k, {
    conversationId: c.id, inboxId: null, accountId: c.accountId, senderType: agent ? 'agent' : 'contact',
    senderId: agent ? c.agentId : c.contactId, inboxes: null, content: sentence(), contentType: 'text', contentAttributes: '{}',
    private: false, echoId: `e${n}`, sourceId: null, now: Date.now(), uid: newUid(), reopenUid: newUid(), floodLimit: 1_000_000,
    hotTail: 1000, dedupeTtlMs: 86_400_000, sourceTtlMs: 7 * 86_400_000,
  }))
}

// ---- the archiver's /metrics ---------------------------------------------------------------------

type Sample = { name: string; labels: Record<string, string>; value: number }

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line)
    if (m === null) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!
    out.push({ name: m[1]!, labels, value: Number(m[3]) })
  }
  return out
}

const sum = (s: Sample[], name: string, where: (l: Record<string, string>) => boolean = () => true) =>
  s.filter((x) => x.name === name && where(x.labels)).reduce((a, x) => a + x.value, 0)

const maxOf = (s: Sample[], name: string) => s.filter((x) => x.name === name).reduce((a, x) => Math.max(a, x.value), 0)

async function scrape(url: string): Promise<Sample[] | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
    const text = await res.text()
    return res.status === 200 ? parseMetrics(text) : null
  } catch {
    return null
  }
}

/** Counters of one scrape that the phases diff. */
function counters(s: Sample[]) {
  const rows: Record<string, number> = {}
  for (const x of s) if (x.name === 'parley_archiver_rows_total' && x.labels['table'] !== undefined) rows[x.labels['table']] = x.value
  const buckets = new Map<string, number>()
  for (const x of s) if (x.name === 'parley_archiver_batch_size_bucket') buckets.set(x.labels['le'] ?? '?', x.value)
  return {
    rows, buckets,
    events: sum(s, 'parley_archiver_events_total'),
    batches: sum(s, 'parley_archiver_batch_size_count'),
    batchEntries: sum(s, 'parley_archiver_batch_size_sum'),
    batchSeconds: sum(s, 'parley_archiver_batch_seconds_sum'),
    retries: sum(s, 'parley_archiver_retries_total'),
    lost: sum(s, 'parley_archiver_lost_entries_total'),
    deadLetters: sum(s, 'parley_archiver_dead_letters_total'),
  }
}
type Counters = ReturnType<typeof counters>

/** What happened between two scrapes: rows per table, batches and their size histogram (per bucket, not cumulative). */
function delta(a: Counters, b: Counters) {
  const rows: Record<string, number> = {}
  for (const [t, n] of Object.entries(b.rows)) if (n - (a.rows[t] ?? 0) > 0) rows[t] = n - (a.rows[t] ?? 0)
  const histogram: Record<string, number> = {}
  let below = 0
  for (const [le, cum] of b.buckets) {
    const n = cum - (a.buckets.get(le) ?? 0) - below
    below += n
    if (n > 0) histogram[le === '+Inf' ? '>5000' : `≤${le}`] = n
  }
  const batches = b.batches - a.batches
  return {
    rows, allRows: Object.values(rows).reduce((s, n) => s + n, 0), events: b.events - a.events, batches,
    meanBatchSize: batches > 0 ? round((b.batchEntries - a.batchEntries) / batches, 1) : null,
    meanBatchMs: batches > 0 ? round(((b.batchSeconds - a.batchSeconds) / batches) * 1000, 1) : null,
    batchSizeHistogram: histogram,
    retries: b.retries - a.retries, lost: b.lost - a.lost, deadLetters: b.deadLetters - a.deadLetters,
  }
}

/** Scrapes /metrics every `ms`: max lag over partitions, messages archived so far. */
function lagPoller(url: string, ms: number) {
  const samples: { at: number; lagMs: number; pending: number; messages: number }[] = []
  let last: Sample[] | null = null
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now()
      const s = await scrape(url)
      if (s !== null) {
        last = s
        samples.push({
          at: Date.now(), lagMs: maxOf(s, 'parley_archiver_lag_ms'), pending: sum(s, 'parley_archiver_pending_entries'),
          messages: sum(s, 'parley_archiver_rows_total', (l) => l['table'] === 'messages'),
        })
      }
      await sleep(Math.max(0, ms - (performance.now() - started)))
    }
  })()
  return {
    samples, latest: () => last,
    between: (from: number, to: number) => samples.filter((x) => x.at >= from && x.at <= to),
    stop: async () => {
      stopped = true
      await loop
    },
  }
}

function pct(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null
  const s = [...values].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!
}

// ---- the stack ------------------------------------------------------------------------------------

/** Is this partition stream's every entry committed and acknowledged by the archiver group? */
async function partitionDrained(redis: Redis, p: number): Promise<boolean> {
  const stream = keysFor(p).events
  const [gs, last] = await Promise.all([groups(redis, stream), redis.xrevrange(stream, '+', '-', 'COUNT', 1)])
  const lastId = last[0]?.[0]
  if (lastId === undefined) return true
  const g = gs.find((x) => x.name === GROUP)
  return g !== undefined && g.pending === 0 && g.lastDeliveredId === lastId
}

/**
 * Waits until every partition is drained (nothing is appended meanwhile), checking the partitions
 * one after the other every 20 ms (two Redis calls a check: the bench stays out of the way).
 */
async function waitDrained(redis: Redis, archiver: ManagedChild, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let p = 0
  for (;;) {
    while (p < PARTITIONS && (await partitionDrained(redis, p))) p++
    if (p === PARTITIONS) return Date.now()
    if (archiver.hasExited()) throw new Error(`the archiver ${describeExit(await archiver.exited)}:\n${archiver.tail()}`)
    if (Date.now() > deadline) throw new Error(`the archiver did not drain the streams in ${timeoutMs / 1000} s:\n${archiver.tail()}`)
    await sleep(20)
  }
}

type Archiver = { child: ManagedChild; pid: number; metricsUrl: string; consumingAt: number; stop(): Promise<void> }

/** Starts dist/archiver/main.js; resolves at its "consuming partition streams" log line (with that line's time). */
async function startArchiver(redisUrl: string, databaseUrl: string, batchSize: number | null, cpuProfDir: string | null): Promise<Archiver> {
  const port = await freePort()
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin', DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, ARCHIVER_PORT: String(port),
    PARTITIONS: String(PARTITIONS), LOG_LEVEL: 'info', ARCHIVER_CONSUMER: 'bench',
    ...(batchSize === null ? {} : { BATCH_SIZE: String(batchSize) }),
    // the archiver's own settings, passed through when set (an A/B of PG_CONNECTIONS, BATCH_MS)
    ...Object.fromEntries(['PG_CONNECTIONS', 'BATCH_MS'].flatMap((k) => (process.env[k] === undefined ? [] : [[k, process.env[k] as string]]))),
  }
  const child = spawnManaged({
    name: 'archiver', command: process.execPath, env, cwd: ROOT,
    args: [...(cpuProfDir === null ? [] : ['--cpu-prof', '--cpu-prof-dir', cpuProfDir]), ARCHIVER_MAIN],
    stopSignal: 'SIGTERM', stopTimeoutMs: 15_000, output: 'capture',
  })
  const deadline = Date.now() + 30_000
  for (;;) {
    for (const line of child.tail().split('\n')) {
      if (!line.includes('consuming partition streams')) continue
      const time = (JSON.parse(line) as { time?: number }).time ?? Date.now()
      return { child, pid: child.pid, metricsUrl: `http://127.0.0.1:${port}/metrics`, consumingAt: time, stop: async () => { await child.stop() } }
    }
    if (child.hasExited()) throw new Error(`the archiver ${describeExit(await child.exited)}:\n${child.tail()}`)
    if (Date.now() > deadline) {
      await child.stop()
      throw new Error(`the archiver did not start consuming:\n${child.tail()}`)
    }
    await sleep(5)
  }
}

/** CPU seconds of every process a phase involves. */
function cpuMark(archiverPid: number, pgPid: number, redis: Redis) {
  return {
    at: performance.now(), archiver: cpuSeconds(archiverPid), pg: clusterCpuSeconds(pgPid),
    redis: redisCpuSeconds(redis), bench: process.cpuUsage(),
  }
}
type CpuMark = ReturnType<typeof cpuMark>

async function cpuSince(m: CpuMark, archiverPid: number, pgPid: number, redis: Redis) {
  const secs = (performance.now() - m.at) / 1000
  const b = process.cpuUsage(m.bench)
  const cores = (v: number) => round(v / secs, 2)
  return {
    archiver: cores(cpuSeconds(archiverPid) - m.archiver), postgres: cores(clusterCpuSeconds(pgPid) - m.pg),
    redis: cores((await redisCpuSeconds(redis)) - (await m.redis)), bench: cores((b.user + b.system) / 1e6),
  }
}

async function countMessages(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: string }[]>`select count(*)::text as n from messages`
  return Number(row?.n ?? 0)
}

// ---- the scenario ---------------------------------------------------------------------------------

export async function runArchive(opts: ArchiveOptions): Promise<Record<string, unknown>> {
  const before = machine()
  const log = (s: string) => { if (opts.verbose) process.stderr.write(`[archive] ${s}\n`) }
  if (opts.waitQuiet) await waitQuiet(() => [], log)
  const started = performance.now()
  const stoppers: { stop(): Promise<void> }[] = []
  const pgSettings = opts.fastPg ? FAST_PG : {}
  let sql: Sql | undefined
  const clients: Redis[] = []
  try {
    const redis: BenchRedis = await startBenchRedis()
    stoppers.push(redis)
    const pg: BenchPostgres = await startBenchPostgres(pgSettings)
    stoppers.push(pg)
    sql = postgres(pg.url, { max: 4, onnotice: () => {} })
    await runMigrations(sql)
    log(`redis ${redis.port}, postgres ${pg.version} on ${pg.port}${opts.fastPg ? ' (fsync off)' : ''}, migrated`)

    // ---- load: N appends through the real script, before the archiver runs ----
    for (let i = 0; i < opts.connections; i++) clients.push(new Redis(redis.url))
    const scripts = clients.map((c) => createScripts(c))
    const convs = await createConversations(scripts[0]!, opts.conversations)
    let seq = 0
    let failed = 0
    const loadStart = performance.now()
    const lane = async (s: Scripts, until: number) => {
      while (seq < until) {
        const n = seq++
        const r = await appendOne(s, convs[n % convs.length]!, n, opts.agentShare)
        if (r[0] !== 1) failed++
      }
    }
    await Promise.all(scripts.flatMap((s) => Array.from({ length: Math.ceil(opts.inflight / scripts.length) }, () => lane(s, opts.messages))))
    const loadSeconds = (performance.now() - loadStart) / 1000
    if (failed > 0) throw new Error(`${failed} appends were refused`)
    const entries = (await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => redis.client.xlen(keysFor(p).events)))).reduce((a, n) => a + n, 0)
    log(`loaded ${opts.messages} messages in ${loadSeconds.toFixed(1)} s (${Math.round(opts.messages / loadSeconds)}/s), ${entries} stream entries`)

    // ---- drain: the archiver from its start until every entry is committed and acknowledged ----
    const archiver = await startArchiver(redis.url, pg.url, opts.batchSize, opts.cpuProfDir)
    stoppers.push(archiver)
    const ours = () => [redis.pid, archiver.pid, pg.pid, ...childPids(pg.pid)]
    const foreign = foreignMeter(ours)
    const cpu0 = cpuMark(archiver.pid, pg.pid, redis.client)
    const poller = lagPoller(archiver.metricsUrl, opts.pollMs)
    const zero = counters([])
    const drainEnd = await waitDrained(redis.client, archiver.child, 600_000)
    const drainCpu = await cpuSince(cpu0, archiver.pid, pg.pid, redis.client)
    const drainForeign = round(foreign.read(), 2)
    const drainSeconds = (drainEnd - archiver.consumingAt) / 1000
    const archived = await countMessages(sql)
    if (archived !== opts.messages) throw new Error(`drained, but PostgreSQL holds ${archived} messages, not ${opts.messages}`)
    const m1 = counters((await scrape(archiver.metricsUrl)) ?? [])
    const drainDelta = delta(zero, m1)
    const drainSamples = poller.between(archiver.consumingAt, drainEnd)
    const drainLags = drainSamples.map((x) => x.lagMs)
    const drain = {
      seconds: round(drainSeconds, 3),
      messagesPerSec: round(opts.messages / drainSeconds), rowsPerSec: round(drainDelta.allRows / drainSeconds),
      entriesPerSec: round(drainDelta.events / drainSeconds),
      ...drainDelta,
      lag: { maxMs: pct(drainLags, 100), p50Ms: pct(drainLags, 50), samples: drainLags.length },
      cpu: drainCpu, foreignCpu: drainForeign,
      cpuPerMessageUs: {
        archiver: round((drainCpu.archiver * drainSeconds * 1e6) / opts.messages, 1),
        postgres: round((drainCpu.postgres * drainSeconds * 1e6) / opts.messages, 1),
      },
      /** [seconds since the archiver started consuming, max lag ms, messages archived] every poll */
      curve: drainSamples.map((x) => [round((x.at - archiver.consumingAt) / 1000, 2), x.lagMs, x.messages]),
    }
    log(`drain: ${opts.messages} messages in ${drainSeconds.toFixed(2)} s = ${drain.messagesPerSec} msg/s, ${drain.rowsPerSec} rows/s; ` +
      `lag max ${drain.lag.maxMs} ms p50 ${drain.lag.p50Ms} ms; batches ${drainDelta.batches} (mean ${drainDelta.meanBatchSize}, ${drainDelta.meanBatchMs} ms); ` +
      `cpu archiver ${drainCpu.archiver} postgres ${drainCpu.postgres} redis ${drainCpu.redis}; foreign ${drainForeign}`)

    // ---- steady: appends at a fixed rate while the archiver runs ----
    const steadyStartWall = Date.now()
    const total = Math.round(opts.rate * opts.steadySeconds)
    let steady: Record<string, unknown> | null = null
    if (total > 0) {
      await sleep(500)
      const m2a = counters((await scrape(archiver.metricsUrl)) ?? [])
      const startWall = Date.now()
      const cpu1 = cpuMark(archiver.pid, pg.pid, redis.client)
      foreign.mark()
      const t0 = performance.now()
      const pending: Promise<void>[] = []
      let sent = 0
      let refused = 0
      while (sent < total) {
        const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * opts.rate))
        for (; sent < due; sent++) {
          const n = seq++
          pending.push(appendOne(scripts[n % scripts.length]!, convs[n % convs.length]!, n, opts.agentShare)
            .then((r) => { if (r[0] !== 1) refused++ }))
        }
        await sleep(5)
      }
      await Promise.all(pending)
      const sendSeconds = (performance.now() - t0) / 1000
      const endWall = Date.now()
      const cpu = await cpuSince(cpu1, archiver.pid, pg.pid, redis.client)
      const foreignCpu = round(foreign.read(), 2)
      const drainedAt = await waitDrained(redis.client, archiver.child, 120_000)
      if (refused > 0) throw new Error(`${refused} steady appends were refused`)
      const archived2 = await countMessages(sql)
      if (archived2 !== opts.messages + total) throw new Error(`PostgreSQL holds ${archived2} messages, not ${opts.messages + total}`)
      const d = delta(m2a, counters((await scrape(archiver.metricsUrl)) ?? []))
      const lags = poller.between(startWall, endWall).map((x) => x.lagMs)
      const lag = { p50Ms: pct(lags, 50), p99Ms: pct(lags, 99), maxMs: pct(lags, 100), samples: lags.length }
      steady = {
        rate: opts.rate, seconds: opts.steadySeconds, sent: total, achievedRate: round(total / sendSeconds), lag,
        drainedAfterMs: drainedAt - endWall, ...d, cpu, foreignCpu,
        cpuPerMessageUs: { archiver: round((cpu.archiver * sendSeconds * 1e6) / total, 1), postgres: round((cpu.postgres * sendSeconds * 1e6) / total, 1) },
      }
      log(`steady ${opts.rate} msg/s for ${opts.steadySeconds} s: lag p50 ${lag.p50Ms} p99 ${lag.p99Ms} max ${lag.maxMs} ms ` +
        `(${lags.length} samples), drained ${drainedAt - endWall} ms after the last append; batches ${d.batches} (mean ${d.meanBatchSize}, ${d.meanBatchMs} ms); ` +
        `cpu archiver ${cpu.archiver} postgres ${cpu.postgres}; foreign ${foreignCpu}`)
    }
    await poller.stop()
    const exit = await archiver.child.stop()
    if (exit.code !== 0) log(`the archiver ${describeExit(exit)}`)
    log('archiver stopped; exporting the drained rows for COPY')
    for (const c of clients.splice(0)) c.disconnect()

    // ---- copy: the same rows, COPY FROM STDIN into the truncated table ----
    const cutoff = new Date(steadyStartWall).toISOString()
    // postgres.js pauses the socket when a COPY TO stream's buffer is full and resumes it on read:
    // consumed in flowing mode on a connection of its own, which is then closed whatever state the
    // client thinks it is in (a paused socket after the last chunk could leave it waiting forever)
    const exporter = postgres(pg.url, { max: 1, onnotice: () => {} })
    const chunks: Buffer[] = []
    try {
      const out = await exporter.unsafe(`copy (select ${MESSAGE_COLUMNS} from messages where created_at < '${cutoff}'::timestamptz) to stdout`).readable()
      out.on('data', (chunk: Buffer) => chunks.push(chunk))
      await once(out, 'end')
    } finally {
      await exporter.end({ timeout: 1 }).catch(() => {})
    }
    const data = Buffer.concat(chunks)
    const lines: number[] = [0]
    for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) lines.push(i + 1)
    const rowCount = lines.length - 1
    if (rowCount !== opts.messages) throw new Error(`exported ${rowCount} rows, expected ${opts.messages}`)
    const copyRuns: { streams: number; seconds: number; rowsPerSec: number; pgCpu: number; pgCpuPerRowUs: number; foreignCpu: number }[] = []
    for (const streams of opts.copyStreams) {
      await sql`truncate messages`
      await sql`checkpoint`
      const parts = Array.from({ length: streams }, (_, i) => data.subarray(lines[Math.floor((i * rowCount) / streams)]!, lines[Math.floor(((i + 1) * rowCount) / streams)]!))
      const pg0 = clusterCpuSeconds(pg.pid)
      foreign.mark()
      const c0 = performance.now()
      await Promise.all(parts.map(async (part) => {
        const w = await sql!.unsafe(`copy messages (${MESSAGE_COLUMNS}) from stdin`).writable()
        const pieces = Array.from({ length: Math.ceil(part.length / 65536) }, (_, i) => part.subarray(i * 65536, (i + 1) * 65536))
        await pipeline(Readable.from(pieces), w)
      }))
      const seconds = (performance.now() - c0) / 1000
      const pgCpu = clusterCpuSeconds(pg.pid) - pg0
      const copied = await countMessages(sql)
      if (copied !== rowCount) throw new Error(`COPY left ${copied} rows, expected ${rowCount}`)
      const r = {
        streams, seconds: round(seconds, 3), rowsPerSec: round(rowCount / seconds), pgCpu: round(pgCpu / seconds, 2),
        pgCpuPerRowUs: round((pgCpu * 1e6) / rowCount, 1), foreignCpu: round(foreign.read(), 2),
      }
      log(`copy on ${streams} connection${streams > 1 ? 's' : ''}: ${rowCount} rows in ${r.seconds} s = ${r.rowsPerSec} rows/s, postgres cpu ${r.pgCpu}, foreign ${r.foreignCpu}`)
      copyRuns.push(r)
    }
    const best = copyRuns.reduce((a, b) => (b.rowsPerSec > a.rowsPerSec ? b : a))
    const copy = { rows: rowCount, bytes: data.length, rowsPerSec: best.rowsPerSec, streams: best.streams, runs: copyRuns }
    const ratio = { messages: round(drain.messagesPerSec / copy.rowsPerSec, 3), allRows: round(drain.rowsPerSec / copy.rowsPerSec, 3) }
    log(`archive/COPY: ${(ratio.messages * 100).toFixed(1)} % (messages), ${(ratio.allRows * 100).toFixed(1)} % (all rows); ` +
      `${Math.round((performance.now() - started) / 1000)} s in all`)
    return {
      scenario: 'archive', mode: opts.mode, messages: opts.messages, conversations: opts.conversations, partitions: PARTITIONS,
      batchSize: opts.batchSize ?? DEFAULT_BATCH_SIZE, agentShare: opts.agentShare,
      postgres: { version: pg.version, settings: opts.fastPg ? FAST_PG : 'defaults (fsync, synchronous_commit on)' },
      load: { seconds: round(loadSeconds, 2), messagesPerSec: round(opts.messages / loadSeconds), streamEntries: entries, inflight: opts.inflight },
      drain, steady, copy, ratio,
      machine: { ...before, quiet: before.quiet.startsWith('quiet') ? otherLoad() : before.quiet },
    }
  } finally {
    for (const c of clients) c.disconnect()
    await sql?.end({ timeout: 5 }).catch(() => {})
    await stopAll(stoppers)
  }
}

export function archiveSummary(f: Record<string, unknown>): string {
  const d = f['drain'] as Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
  const s = f['steady'] as Record<string, any> | null // eslint-disable-line @typescript-eslint/no-explicit-any
  const c = f['copy'] as Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = f['ratio'] as Record<string, number>
  const pg = f['postgres'] as Record<string, unknown>
  return `archiver drained ${f['messages']} msgs (${f['conversations']} convs over 16 partitions, batch ${f['batchSize']}) in ${d['seconds']} s: ` +
    `${d['messagesPerSec']} msg/s, ${d['rowsPerSec']} rows/s all tables; lag max ${d['lag'].maxMs} ms, p50 ${d['lag'].p50Ms} ms; ` +
    `mean batch ${d['meanBatchSize']} entries / ${d['meanBatchMs']} ms; cpu archiver ${d['cpu'].archiver}, postgres ${d['cpu'].postgres}, redis ${d['cpu'].redis}. ` +
    `COPY ceiling ${c['rowsPerSec']} rows/s (${c['streams']} conn) → archive/COPY ${round(r['messages']! * 100, 1)} % (msgs), ${round(r['allRows']! * 100, 1)} % (all rows). ` +
    (s === null ? '' : `Steady ${s['rate']} msg/s × ${s['seconds']} s: lag p50 ${s['lag'].p50Ms} / p99 ${s['lag'].p99Ms} / max ${s['lag'].maxMs} ms ` +
      `(${s['lag'].samples} samples), cpu archiver ${s['cpu'].archiver}, postgres ${s['cpu'].postgres}. `) +
    `PostgreSQL ${String(pg['version'])}${typeof pg['settings'] === 'string' ? '' : ' fsync off'}`
}

async function main(): Promise<void> {
  const opts = archiveOptions(parseArgs(process.argv.slice(2), process.env))
  const figures = await runArchive(opts)
  printLine(figures)
  if (opts.record) {
    saveResults('archive', figures)
    appendRow('archive', figures['machine'] as ReturnType<typeof machine>, opts.mode, archiveSummary(figures))
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench archive failed: ${err instanceof Error ? err.stack : String(err)}\n`)
    process.exit(1)
  })
}
