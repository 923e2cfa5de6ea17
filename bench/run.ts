// `npm run bench`: every scenario in quick mode (under 3 minutes), then the chart and the goals.
// `npm run bench -- --full` (or BENCH_MODE=full): the record run — longer steps, 3 repetitions per
// step (medians quoted), 100k connections; it also rewrites the goals table in bench/RESULTS.md
// and keeps its figures in bench/results/record.json.
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { ceilingsOptions, ceilingsSummary, runCeilings } from './ceilings.js'
import { writeChart } from './chart.js'
import { chatOptions, chatSummary, runChat } from './chat.js'
import { connectionsOptions, connectionsSummary, runConnections } from './connections.js'
import { parseArgs } from './lib/args.js'
import { exitCleanlyOnSignals } from './lib/stack.js'
import { goalsTable, writeGoals } from './lib/goals.js'
import { appendRow, LATEST, machine, measuredLoad, printLine, readLatest, RESULTS_DIR, saveResults } from './lib/report.js'

async function main(): Promise<void> {
  exitCleanlyOnSignals()
  const args = parseArgs(process.argv.slice(2), process.env)
  const only = args.str('only', 'ceilings,chat,connections').split(',')
  // the record is one instance; cluster comparisons are their own runs (bench:ceilings / bench:chat --redis)
  if (args.str('redis', 'single') !== 'single') throw new Error('npm run bench records one instance: run bench:ceilings or bench:chat with --redis')
  const started = Date.now()
  const scenarios = [
    { name: 'ceilings', run: () => runCeilings(ceilingsOptions(args)), summary: ceilingsSummary },
    { name: 'chat', run: () => runChat(chatOptions(args)), summary: chatSummary },
    { name: 'connections', run: () => runConnections(connectionsOptions(args)), summary: connectionsSummary },
  ]
  for (const s of scenarios) {
    if (!only.includes(s.name)) continue
    const figures = await s.run()
    printLine(figures)
    saveResults(s.name, figures)
    const m = figures['machine'] as ReturnType<typeof machine>
    appendRow(s.name, m, args.mode, s.summary(figures), measuredLoad(figures, m))
  }
  const latest = readLatest()
  const chart = writeChart()
  process.stderr.write(`[bench] chart: ${chart}\n`)
  const table = goalsTable(latest)
  process.stderr.write(`${table}\n`)
  if (args.mode === 'full') {
    copyFileSync(LATEST, join(RESULTS_DIR, 'record.json'))
    writeGoals(table)
  }
  process.stderr.write(`[bench] ${args.mode} run done in ${Math.round((Date.now() - started) / 1000)} s\n`)
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
