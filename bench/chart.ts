// bench/chart.svg from bench/results/latest.json: chat p99 latency (log y) against offered rate
// (log x), Parley and the socket.io peer, the p99 bound as a dashed line. A point is the median
// of the repetitions, its whisker spans their min–max; a hollow point failed the step (p99 over
// the bound, under 99.9 % delivered, or errors).
//   node dist/bench/chart.js [results.json] [out.svg]
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { LATEST, ROOT } from './lib/report.js'

type Point = { rate: number; p99: number | null; p99s: (number | null)[]; pass: boolean; deliveredPct: number }
type Series = { name: string; color: string; points: Point[] }

const W = 760
const H = 460
const M = { left: 72, right: 24, top: 62, bottom: 64 }

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function fmtRate(v: number): string {
  return v >= 1000 ? `${v / 1000}k` : String(v)
}

function fmtMs(v: number): string {
  return v >= 1 ? String(v) : v.toFixed(v >= 0.1 ? 1 : 2)
}

export function renderChart(results: Record<string, any>): string { // eslint-disable-line @typescript-eslint/no-explicit-any
  const chat = results['chat'] ?? {}
  const bound: number = chat.boundMs ?? 50
  const series: Series[] = []
  const add = (name: string, color: string, t: any) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    if (t?.ramp === undefined) return
    series.push({ name, color, points: (t.ramp as Point[]).filter((p) => p.p99 !== null) })
  }
  add('Parley', '#1f6feb', chat.parley)
  add('socket.io + redis-streams-adapter', '#d1495b', chat.socketio)

  const all = series.flatMap((s) => s.points)
  const ys = all.flatMap((p) => [p.p99, ...p.p99s]).filter((v): v is number => v !== null && v > 0)
  const rates = all.map((p) => p.rate)
  const xMin = Math.min(...rates, 1000) / 1.4
  const xMax = Math.max(...rates, 2000) * 1.4
  const yMin = 10 ** Math.floor(Math.log10(Math.min(...ys, bound, 1)))
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...ys, bound * 2)))
  const pw = W - M.left - M.right
  const ph = H - M.top - M.bottom
  const x = (v: number) => M.left + ((Math.log(v) - Math.log(xMin)) / (Math.log(xMax) - Math.log(xMin))) * pw
  const y = (v: number) => M.top + ph - ((Math.log10(v) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * ph

  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`)
  const m = chat.machine ?? {}
  out.push(`<text x="${M.left}" y="22" font-size="15" font-weight="bold">Chat: widget → agent p99 latency vs offered message rate</text>`)
  out.push(`<text x="${M.left}" y="36" fill="#555" font-size="11">${esc(`${chat.mode ?? ''} run, ${chat.codec ?? 'json'}, ${chat.conversations ?? '?'} conversations × (2 agents + widget), ${chat.nodes ?? '?'} server nodes each, median of ${chat.reps ?? '?'}× ${chat.stepSeconds ?? '?'} s per step`)}</text>`)
  out.push(`<text x="${M.left}" y="50" fill="#555" font-size="11">${esc(`${m.nproc ?? '?'} × ${m.cpu ?? '?'}, node ${m.node ?? '?'}, redis ${m.redis ?? '?'}, commit ${String(m.commit ?? '?').split(' ')[0]}; generators on the same box`)}</text>`)
  // grid and ticks
  for (let d = yMin; d <= yMax * 1.0001; d *= 10) {
    for (const k of [1, 2, 5]) {
      const v = d * k
      if (v > yMax * 1.0001) break
      const yy = y(v)
      out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${yy}" y2="${yy}" stroke="${k === 1 ? '#ddd' : '#f0f0f0'}"/>`)
      out.push(`<text x="${M.left - 6}" y="${yy + 4}" text-anchor="end" fill="#333">${fmtMs(v)}</text>`)
    }
  }
  const tickRates = [125, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000].filter((r) => r >= xMin && r <= xMax)
  for (const r of tickRates) {
    const xx = x(r)
    out.push(`<line x1="${xx}" x2="${xx}" y1="${M.top}" y2="${M.top + ph}" stroke="#f0f0f0"/>`)
    out.push(`<text x="${xx}" y="${M.top + ph + 16}" text-anchor="middle" fill="#333">${fmtRate(r)}</text>`)
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`)
  out.push(`<text x="${M.left + pw / 2}" y="${H - 22}" text-anchor="middle">offered rate, messages/s (log scale)</text>`)
  out.push(`<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">p99 latency, ms (log scale)</text>`)
  // the bound
  out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y(bound)}" y2="${y(bound)}" stroke="#444" stroke-dasharray="6 4"/>`)
  out.push(`<text x="${M.left + pw - 4}" y="${y(bound) - 5}" text-anchor="end" fill="#444">p99 bound ${bound} ms</text>`)
  // series
  for (const s of series) {
    const pts = s.points.filter((p) => p.p99 !== null).sort((a, b) => a.rate - b.rate)
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map((p) => `${x(p.rate).toFixed(1)},${y(p.p99 as number).toFixed(1)}`).join(' ')}"/>`)
    for (const p of pts) {
      const reps = p.p99s.filter((v): v is number => v !== null && v > 0)
      if (reps.length > 1) {
        out.push(`<line x1="${x(p.rate)}" x2="${x(p.rate)}" y1="${y(Math.min(...reps))}" y2="${y(Math.max(...reps))}" stroke="${s.color}" stroke-width="1.5"/>`)
      }
      const title = `${s.name}: ${p.rate}/s → p99 ${p.p99} ms, ${p.deliveredPct}% delivered${p.pass ? '' : ' (failed)'}`
      out.push(`<circle cx="${x(p.rate).toFixed(1)}" cy="${y(p.p99 as number).toFixed(1)}" r="4.5" fill="${p.pass ? s.color : '#fff'}" stroke="${s.color}" stroke-width="2"><title>${esc(title)}</title></circle>`)
    }
  }
  // legend
  let ly = M.top + 14
  for (const s of series) {
    out.push(`<line x1="${M.left + 12}" x2="${M.left + 36}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"/><circle cx="${M.left + 24}" cy="${ly}" r="4" fill="${s.color}"/>`)
    out.push(`<text x="${M.left + 44}" y="${ly + 4}">${esc(s.name)}${s.points.length === 0 ? ' (no data)' : ''}</text>`)
    ly += 18
  }
  out.push(`<circle cx="${M.left + 24}" cy="${ly}" r="4" fill="#fff" stroke="#666" stroke-width="2"/><text x="${M.left + 44}" y="${ly + 4}" fill="#555">hollow: step failed (p99 &gt; bound, &lt; 99.9 % delivered, or errors); whisker: min–max of repetitions</text>`)
  out.push('</svg>')
  return `${out.join('\n')}\n`
}

export function writeChart(resultsFile = LATEST, outFile = join(ROOT, 'bench', 'chart.svg')): string {
  const results = JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown>
  writeFileSync(outFile, renderChart(results))
  return outFile
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = writeChart(process.argv[2], process.argv[3])
  process.stderr.write(`wrote ${file}\n`)
}
