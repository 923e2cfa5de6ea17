// The goals, checked against the figures of one run (bench/results/*.json), as a
// markdown table that the record run writes between markers in bench/RESULTS.md.
import { readFileSync, writeFileSync } from 'node:fs'
import { RESULTS_MD } from './report.js'

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

const START = '<!-- goals:start (written by `npm run bench -- --full`) -->'
const END = '<!-- goals:end -->'

const fmt = (v: unknown, unit = '') => (v === null || v === undefined || Number.isNaN(v) ? '–' : `${typeof v === 'number' ? Number(v.toFixed(2)) : String(v)}${unit}`)
const verdict = (ok: boolean | null) => (ok === null ? 'not measured' : ok ? '**met**' : '**missed**')

export function goalRows(r: Json): string[][] {
  const chat = r['chat'] ?? {}
  const parley = chat.parley ?? null
  const peer = chat.socketio ?? null
  const script = r['ceilings']?.script ?? null
  const publish = r['ceilings']?.publish ?? null
  const conns = r['connections'] ?? null
  const rows: string[][] = []

  const inbound = parley?.maxRate ?? null
  const ceiling = script?.messagesPerSec ?? null
  const share = inbound !== null && ceiling ? inbound / ceiling : null
  rows.push(['inbound rate ≥ 50 % of the bare-script ceiling',
    `${fmt(inbound, ' msg/s')} of ${fmt(ceiling, ' msg/s')} = ${fmt(share === null ? null : share * 100, ' %')}`,
    verdict(share === null ? null : share >= 0.5)])

  const ratio = chat.ratios?.maxRate ?? null
  rows.push(['≥ 5× the peer\'s highest rate (p99 ≤ bound, ≥ 99.9 % delivered)',
    `Parley ${fmt(inbound, '/s')} vs peer ${fmt(peer?.maxRate, '/s')} = ×${fmt(ratio)}`,
    verdict(ratio === null ? (inbound !== null && peer !== null && peer.maxRate === null ? true : null) : ratio >= 5)])

  const pe = parley?.equalLoad ?? null
  const se = peer?.equalLoad ?? null
  const p99Ratio = pe?.p99 && se?.p99 ? se.p99 / pe.p99 : null
  rows.push(['p99 at 50 % of the peer\'s max ≤ 1/5 of the peer\'s',
    `at ${fmt(pe?.rate, '/s')}: Parley ${fmt(pe?.p99, ' ms')} vs peer ${fmt(se?.p99, ' ms')} (peer/Parley ×${fmt(p99Ratio)})`,
    verdict(p99Ratio === null ? null : p99Ratio >= 5)])

  const held = conns?.connected ?? null
  const per = conns?.rssPerConnBytes ?? null
  rows.push(['≥ 100k idle connections across processes at ≤ 2 KB server RSS each',
    `${fmt(held)} held (${fmt(conns?.failed)} failed) on ${fmt(conns?.workers)} workers, ${fmt(per === null ? null : per / 1024, ' KB')} RSS each`,
    verdict(held === null ? null : held >= 100_000 && per !== null && per <= 2048)])

  // informative: each Parley figure against its ceiling
  const framesOut = parley?.atMax ? parley.atMax.sentPerSec * 4 : null
  rows.push(['(info) Parley frames out at its max vs uWS publish alone',
    `${fmt(framesOut, '/s')} (2 agents + echo + ack per message) vs ${fmt(publish?.deliveriesPerSec, '/s')} = ${fmt(framesOut !== null && publish ? (framesOut / publish.deliveriesPerSec) * 100 : null, ' %')}`, '–'])
  rows.push(['(info) RSS per chat connection, Parley vs peer',
    `${fmt(parley?.connections?.rssPerConnKB, ' KB')} vs ${fmt(peer?.connections?.rssPerConnKB, ' KB')} (×${fmt(chat.ratios?.rssPerConn)})`, '–'])
  return rows
}

export function goalsTable(r: Json): string {
  const rows = goalRows(r)
  return ['| goal | figure | verdict |', '|---|---|---|', ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n')
}

/** Replaces the goals table between its markers in RESULTS.md (appends the markers when missing). */
export function writeGoals(table: string): void {
  let text = readFileSync(RESULTS_MD, 'utf8')
  const block = `${START}\n${table}\n${END}`
  const a = text.indexOf(START)
  const b = text.indexOf(END)
  text = a >= 0 && b > a ? `${text.slice(0, a)}${block}${text.slice(b + END.length)}` : `${text}\n${block}\n`
  writeFileSync(RESULTS_MD, text)
}
