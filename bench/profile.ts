// Summarises V8 CPU profiles (`node --cpu-prof`, e.g. engines of `npm run bench:chat -- --cpu-prof
// DIR`): self time by function and by package, so a bench figure's limit is read off a profile.
//   node dist/bench/profile.js DIR|file.cpuprofile [--top 25]
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }
type Profile = { nodes: Node[]; startTime: number; endTime: number; samples?: number[]; timeDeltas?: number[] }

export type ProfileSummary = {
  seconds: number; sampledSeconds: number; idlePct: number
  byFunction: { name: string; pct: number }[]
  byPackage: { name: string; pct: number }[]
}

function packageOf(url: string, name: string): string {
  if (name === '(garbage collector)') return 'GC'
  if (name === '(idle)') return 'idle'
  if (name === '(program)') return 'V8/native (program)'
  if (url === '') return 'native (socket writes, addons such as uWS, builtins)'
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (nm?.[1] !== undefined) return nm[1]
  if (url.startsWith('node:')) return 'node core'
  const own = /dist\/([a-z]+)\//.exec(url)
  return own?.[1] !== undefined ? `parley ${own[1]}/` : url
}

export function summarizeProfile(p: Profile, top = 25): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const selfUs = new Map<number, number>()
  if (p.samples !== undefined && p.timeDeltas !== undefined) {
    for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0))
  } else {
    const per = (p.endTime - p.startTime) / Math.max(1, p.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0))
    for (const n of p.nodes) selfUs.set(n.id, (n.hitCount ?? 0) * per)
  }
  const fn = new Map<string, number>()
  const pkg = new Map<string, number>()
  let total = 0
  let idle = 0
  for (const [id, us] of selfUs) {
    const n = byId.get(id)
    if (n === undefined) continue
    const { functionName, url, lineNumber } = n.callFrame
    total += us
    if (functionName === '(idle)') { idle += us; continue }
    const short = url.replace(/^.*\/(node_modules\/)?/, '')
    const key = `${functionName || '(anonymous)'} ${short}${url === '' ? '' : `:${lineNumber + 1}`}`
    fn.set(key, (fn.get(key) ?? 0) + us)
    const pk = packageOf(url, functionName)
    pkg.set(pk, (pkg.get(pk) ?? 0) + us)
  }
  const busy = Math.max(1, total - idle)
  const rows = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({ name, pct: Math.round((us / busy) * 1000) / 10 }))
  return {
    seconds: (p.endTime - p.startTime) / 1e6, sampledSeconds: total / 1e6, idlePct: Math.round((idle / Math.max(1, total)) * 1000) / 10,
    byFunction: rows(fn), byPackage: rows(pkg),
  }
}

function main(): void {
  const target = process.argv[2]
  if (target === undefined) throw new Error('usage: node dist/bench/profile.js DIR|file.cpuprofile [--top N]')
  const topAt = process.argv.indexOf('--top')
  const top = topAt > 0 ? Number(process.argv[topAt + 1]) : 25
  const files = statSync(target).isDirectory() ? readdirSync(target).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(target, f)) : [target]
  for (const file of files) {
    const s = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as Profile, top)
    process.stdout.write(`\n${file}: ${s.seconds.toFixed(1)} s, idle ${s.idlePct} %; shares of busy time:\n`)
    process.stdout.write(`  by package:\n${s.byPackage.map((r) => `    ${String(r.pct).padStart(5)} %  ${r.name}`).join('\n')}\n`)
    process.stdout.write(`  by function (self):\n${s.byFunction.map((r) => `    ${String(r.pct).padStart(5)} %  ${r.name}`).join('\n')}\n`)
  }
}

if (process.argv[1]?.endsWith('profile.js') === true) main()
