// Scenario "reports": the report and search queries on an archive of 1M conversations and 10M
// messages (scale 1; --scale 0.1 builds a tenth), built with COPY (bench/gen/report-archive.ts) in a
// throwaway PostgreSQL. Each case runs through the engine's own code (engine/reports, engine/search)
// `--reps` times after 3 warm-ups → p50/p95 ms; then EXPLAIN (ANALYZE, BUFFERS) of its slowest SQL
// statement. Figures and plans go to bench/RESULTS.md (between the reports markers) and
// bench/results/latest.json; the cluster and its data are deleted at the end.
//   npm run bench:reports [-- --scale 0.1] [--reps 20] [--no-record] [--plans]   (--plans: every case's plan on stderr)
import { loadavg } from 'node:os'
import postgres, { type Sql } from 'postgres'
import { runMigrations } from '../archiver/migrate.js'
import { reportCsat } from '../engine/reports/csat.js'
import { parseCsatQuery, parseTableQuery, parseTimeseriesQuery } from '../engine/reports/params.js'
import { reportTable } from '../engine/reports/tables.js'
import { reportTimeseries } from '../engine/reports/timeseries.js'
import { createSearch } from '../engine/search/search.js'
import { startBenchPostgres } from './archive-pg.js'
import { ACCOUNT, buildArchive, END, INBOXES, word } from './gen/report-archive.js'
import { parseArgs } from './lib/args.js'
import { machine, printLine, round, saveResults } from './lib/report.js'
import { exitCleanlyOnSignals, startBenchRedis } from './lib/stack.js'
import { writeResultsSection } from './lib/reports-md.js'

const DAY = 86_400_000
const args = parseArgs(process.argv.slice(2), process.env)
const scale = args.num('scale', args.mode === 'full' ? 1 : 0.1)
const reps = args.num('reps', 20)
const record = !args.bool('no-record')
const printPlans = args.bool('plans')
const log = (s: string) => process.stderr.write(`[reports] ${s}\n`)
exitCleanlyOnSignals()

/** Read-only queries: durability settings do not touch them; the load is faster without. */
const pg = await startBenchPostgres({
  shared_buffers: '1GB', work_mem: '32MB', maintenance_work_mem: '512MB', max_wal_size: '1GB', fsync: 'off', synchronous_commit: 'off',
  full_page_writes: 'off', effective_cache_size: '8GB', random_page_cost: '1.1', max_connections: 20,
})
const redis = await startBenchRedis()
let captured: { text: string; params: unknown[] }[] = []
const sql = postgres(pg.url, { max: 4, onnotice: () => {}, debug: (_c, text, params) => { captured.push({ text, params: params as unknown[] }) } })
const admin = postgres(pg.url, { max: 4, onnotice: () => {} })
try {
  await runMigrations(admin)
  const size = await buildArchive(admin, Math.round(1_000_000 * scale), log)
  const [disk] = await admin<{ mb: number }[]>`select round(pg_database_size(current_database()) / 1048576.0)::int as mb`
  log(`archive built in ${size.seconds} s, ${disk?.mb} MB`)

  const q = (o: Record<string, string | number | boolean>) => new URLSearchParams(Object.entries(o).map(([k, v]): [string, string] => [k, String(v)])).toString()
  const last = (days: number) => ({ since: END - days * DAY, until: END })
  const ts = (o: Record<string, string | number | boolean>) => () => reportTimeseries(sql, parseTimeseriesQuery(ACCOUNT, q({ timezone: 'Europe/Berlin', ...o })))
  const search = createSearch({ sql, redis: redis.client, partitions: 16 })
  const agentInboxes = [INBOXES[0]!, INBOXES[1]!]
  const cases: { name: string; kind: 'report' | 'search'; run: () => Promise<unknown> }[] = [
    { name: 'timeseries conversations, day, 30 days', kind: 'report', run: ts({ metric: 'conversations', groupBy: 'day', ...last(30) }) },
    { name: 'timeseries incoming_messages, day, 30 days', kind: 'report', run: ts({ metric: 'incoming_messages', groupBy: 'day', ...last(30) }) },
    { name: 'timeseries outgoing_messages, week, 365 days', kind: 'report', run: ts({ metric: 'outgoing_messages', groupBy: 'week', ...last(365) }) },
    { name: 'timeseries incoming_messages, hour, 7 days, one agent', kind: 'report', run: ts({ metric: 'incoming_messages', groupBy: 'hour', agentId: 'ag_bench00000000000000003', ...last(7) }) },
    { name: 'timeseries first_response_time, day, 30 days', kind: 'report', run: ts({ metric: 'first_response_time', groupBy: 'day', ...last(30) }) },
    { name: 'timeseries resolution_time, month, 365 days, business hours', kind: 'report', run: ts({ metric: 'resolution_time', groupBy: 'month', businessHours: true, ...last(365) }) },
    { name: 'timeseries waiting_time, day, 90 days, one inbox', kind: 'report', run: ts({ metric: 'waiting_time', groupBy: 'day', inboxId: INBOXES[2]!, ...last(90) }) },
    { name: 'timeseries csat, day, 90 days', kind: 'report', run: ts({ metric: 'csat', groupBy: 'day', ...last(90) }) },
    { name: 'agents, 30 days', kind: 'report', run: () => reportTable(sql, 'agent', parseTableQuery(ACCOUNT, q(last(30)))) },
    { name: 'inboxes, 30 days', kind: 'report', run: () => reportTable(sql, 'inbox', parseTableQuery(ACCOUNT, q(last(30)))) },
    { name: 'agents, 365 days', kind: 'report', run: () => reportTable(sql, 'agent', parseTableQuery(ACCOUNT, q(last(365)))) },
    { name: 'inboxes, 365 days', kind: 'report', run: () => reportTable(sql, 'inbox', parseTableQuery(ACCOUNT, q(last(365)))) },
    { name: 'csat page, 90 days', kind: 'report', run: () => reportCsat(sql, parseCsatQuery(ACCOUNT, q({ ...last(90), limit: 25 }))) },
    { name: 'search rare word (rank 15000)', kind: 'search', run: () => search.search({ accountId: ACCOUNT, inboxIds: null, q: word(15_000), inboxId: null, status: null, cursor: null, limit: 20 }) },
    { name: 'search mid word (rank 1000)', kind: 'search', run: () => search.search({ accountId: ACCOUNT, inboxIds: null, q: word(1000), inboxId: null, status: null, cursor: null, limit: 20 }) },
    { name: 'search two mid words, an agent of 2 inboxes', kind: 'search', run: () => search.search({ accountId: ACCOUNT, inboxIds: agentInboxes, q: `${word(300)} ${word(700)}`, inboxId: null, status: null, cursor: null, limit: 20 }) },
    { name: 'search common word (rank 10)', kind: 'search', run: () => search.search({ accountId: ACCOUNT, inboxIds: null, q: word(10), inboxId: null, status: null, cursor: null, limit: 20 }) },
    { name: 'search contact name prefix', kind: 'search', run: () => search.search({ accountId: ACCOUNT, inboxIds: null, q: word(4242).slice(0, 5), inboxId: null, status: null, cursor: null, limit: 20 }) },
    { name: 'search display id', kind: 'search', run: () => search.search({ accountId: ACCOUNT, inboxIds: agentInboxes, q: '#4711', inboxId: null, status: null, cursor: null, limit: 20 }) },
  ]

  const results: Record<string, unknown>[] = []
  const loadAtStart = loadavg().map((x) => round(x, 1))
  for (const c of cases) {
    for (let i = 0; i < 3; i++) await c.run()
    const ms: number[] = []
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now()
      await c.run()
      ms.push(performance.now() - t0)
    }
    ms.sort((a, b) => a - b)
    const p = (x: number) => round(ms[Math.min(ms.length - 1, Math.ceil(x * ms.length) - 1)]!, 1)
    // the plan of the case's slowest statement
    captured = []
    await c.run()
    const statements = captured.filter((s) => /^\s*(with|select)/i.test(s.text))
    let plan = ''
    let worst = -1
    for (const s of statements) {
      const rows = await admin.unsafe(`explain (analyze, buffers) ${s.text}`, s.params as never[])
      const text = rows.map((r) => String((r as Record<string, unknown>)['QUERY PLAN'])).join('\n')
      const exec = Number(/Execution Time: ([\d.]+) ms/.exec(text)?.[1] ?? 0)
      if (exec > worst) { worst = exec; plan = text }
    }
    const r = { name: c.name, kind: c.kind, p50Ms: p(0.5), p95Ms: p(0.95), maxMs: round(ms.at(-1)!, 1), statements: statements.length, plan }
    log(`${c.name}: p50 ${r.p50Ms} ms, p95 ${r.p95Ms} ms (${statements.length} statements)`)
    if (printPlans) log(`plan of its slowest statement:\n${plan}`)
    results.push(r)
  }
  const m = machine()
  const figures = {
    scenario: 'reports', scale, reps, loadAvg: { atStart: loadAtStart, atEnd: loadavg().map((x) => round(x, 1)) }, archive: { ...size, diskMb: disk?.mb ?? null }, pg: pg.version,
    worstReportP95Ms: Math.max(...results.filter((r) => r['kind'] === 'report').map((r) => r['p95Ms'] as number)),
    worstSearchP95Ms: Math.max(...results.filter((r) => r['kind'] === 'search').map((r) => r['p95Ms'] as number)),
    cases: results.map(({ plan: _p, ...r }) => r), machine: m,
  }
  printLine(figures)
  if (record) {
    saveResults('reports', figures)
    writeResultsSection(figures, results)
  }
} finally {
  await sql.end({ timeout: 1 })
  await admin.end({ timeout: 1 })
  await redis.stop()
  await pg.stop()
}
