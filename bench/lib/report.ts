// Where figures go: one JSON line on stdout per scenario, a row in bench/RESULTS.md (with the
// machine, versions, commit and exact command), and bench/results/latest.json for the chart.
import { execFileSync } from 'node:child_process'
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { findRedisServer } from '../../engine/embedded/binaries.js'
import { findRepoRoot } from '../../engine/embedded/repo-root.js'
import { cpuSeconds } from './procstat.js'

export const ROOT = findRepoRoot(import.meta.url)
export const RESULTS_MD = join(ROOT, 'bench', 'RESULTS.md')
export const RESULTS_DIR = join(ROOT, 'bench', 'results')
export const LATEST = join(RESULTS_DIR, 'latest.json')

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return 'unknown'
  }
}

export type Machine = { nproc: number; cpu: string; memGiB: number; node: string; redis: string; commit: string; command: string; quiet: string }

export function machine(): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown'
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu
  } catch {
    // not Linux
  }
  const redisVersion = /v=([\d.]+)/.exec(run(findRedisServer(), ['--version']))?.[1] ?? 'unknown'
  const dirty = run('git', ['status', '--porcelain', '--untracked-files=no']) !== ''
  let memGiB = 0
  try {
    memGiB = Math.round(Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) / 1048576)
  } catch {
    // not Linux
  }
  return {
    nproc: Number(run('nproc', [])) || cpus().length,
    cpu, memGiB,
    node: process.version,
    redis: redisVersion,
    // BENCH_COMMIT: set when the run works on a snapshot copy of the tree (bench/snapshot.sh)
    commit: process.env['BENCH_COMMIT'] ?? `${run('git', ['rev-parse', '--short', 'HEAD'])}${dirty ? '+dirty' : ''}`,
    command: benchCommand(),
    quiet: otherLoad(),
  }
}

/** The command as typed: the npm script when run through npm, plus its arguments. */
export function benchCommand(): string {
  const script = process.env['npm_lifecycle_event']
  const args = process.argv.slice(2).join(' ')
  const mode = process.env['BENCH_MODE'] === 'full' ? 'BENCH_MODE=full ' : ''
  if (script !== undefined && script !== '') return `${mode}npm run ${script}${args === '' ? '' : ` -- ${args}`}`
  return `${mode}node ${process.argv.slice(1).map((a) => a.replace(`${ROOT}/`, '')).join(' ')}`
}

/**
 * Other test or engine processes on the machine (a loaded machine makes figures worthless). One
 * that used under 2 % of a core over the last half second counts as idle (a leftover server).
 */
export function otherLoad(): string {
  const out = run('pgrep', ['-fa', 'tap|dist/test|node dist/engine'])
  const mine = new Set([String(process.pid), String(process.ppid)])
  const pids = out === 'unknown' ? [] : out.split('\n').filter((l) => l !== '' && !l.includes('pgrep')).map((l) => l.split(' ')[0] ?? '').filter((p) => !mine.has(p))
  const cpu0 = new Map(pids.map((p) => [p, cpuSeconds(Number(p))]))
  execFileSync('sleep', ['0.5'])
  const busy = pids.filter((p) => cpuSeconds(Number(p)) - (cpu0.get(p) ?? 0) > 0.01)
  const idle = pids.length - busy.length
  if (busy.length > 0) return `busy: ${busy.length} other test/engine processes`
  return idle === 0 ? 'quiet' : `quiet (${idle} idle leftover process${idle > 1 ? 'es' : ''})`
}

/** Prints the scenario's one JSON line. */
export function printLine(figures: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(figures)}\n`)
}

export function readLatest(): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(LATEST, 'utf8')) as Record<string, unknown>
  } catch {
    return {}
  }
}

/** Stores a scenario's figures in latest.json (by scenario) and appends them to history.jsonl. */
export function saveResults(scenario: string, figures: Record<string, unknown>): void {
  mkdirSync(RESULTS_DIR, { recursive: true })
  const latest = readLatest()
  latest[scenario] = figures
  writeFileSync(LATEST, `${JSON.stringify(latest, null, 1)}\n`)
  appendFileSync(join(RESULTS_DIR, 'history.jsonl'), `${JSON.stringify({ scenario, ...figures })}\n`)
}

const RUNS_HEADER = '## Runs (appended by the bench)'

/** The load column for figures that carry `foreignCpuMax` (cores other processes used while measuring). */
export function measuredLoad(figures: Record<string, unknown>, m: Machine): string {
  const f = figures['foreignCpuMax']
  return typeof f === 'number' ? `other processes ≤ ${f} cores while measuring` : m.quiet
}

/** Appends one row to the runs table of bench/RESULTS.md; `load` replaces the start-time check. */
export function appendRow(scenario: string, m: Machine, mode: string, summary: string, load = m.quiet): void {
  if (!existsSync(RESULTS_MD)) writeFileSync(RESULTS_MD, '# Benchmark results\n')
  let text = readFileSync(RESULTS_MD, 'utf8')
  if (!text.includes(RUNS_HEADER)) {
    text += `\n${RUNS_HEADER}\n\n| when (UTC) | scenario | mode | figures | machine | node / redis | commit | machine load | command |\n|---|---|---|---|---|---|---|---|---|\n`
    writeFileSync(RESULTS_MD, text)
  }
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ')
  appendFileSync(RESULTS_MD, `| ${when} | ${scenario} | ${mode} | ${cell(summary)} | ${m.nproc} × ${cell(m.cpu)}, ${m.memGiB} GiB | ${m.node} / ${m.redis} | ${m.commit} | ${cell(load)} | \`${cell(m.command)}\` |\n`)
}

export const round = (v: number, digits = 0) => {
  const f = 10 ** digits
  return Math.round(v * f) / f
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}
