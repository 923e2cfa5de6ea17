// Builds the reports/search benchmark archive with COPY: one account (the worst case: every row is
// the same tenant's, so no account filter narrows anything), `conversations` conversations over one
// year ending at END, 10 messages each (contact and agent alternating, 1 in 20 agent messages a private
// note) with Zipf-distributed words from a 20,000-word vocabulary, the reporting events and CSAT
// answers the archiver would derive (first_response, reply_time, conversation_resolved), 10 inboxes
// (5 with business hours: value_in_business_hours = 30 % of the value, a stand-in, not business_ms),
// 50 agents (5 per inbox, 10 of them in two inboxes), 0.7 contacts per conversation.
// Secondary indexes are dropped before the load and rebuilt after (as a restore would), the report
// rollups rebuilt from the rows (rebuild_report_rollups: the hourly rows, then the daily and the
// monthly ones from them, what the archiver keeps batch by batch), then VACUUM ANALYZE. Deterministic: a seeded PRNG,
// so every run builds the same archive.
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Sql } from 'postgres'

export const END = Date.UTC(2026, 10, 30)
export const YEAR_MS = 365 * 86_400_000
export const ACCOUNT = 'a_benchreportsaccount0001'
export const INBOXES = Array.from({ length: 10 }, (_, i) => `in_bench${String(i).padStart(17, '0')}`)
export const AGENTS = Array.from({ length: 50 }, (_, i) => `ag_bench${String(i).padStart(17, '0')}`)
export const VOCABULARY = 20_000

function mulberry32(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Pseudo-words, distinct, pronounceable: word(0) is the most frequent. */
export function word(rank: number): string {
  const c = 'bcdfghjklmnprstvz'
  const v = 'aeiou'
  let n = rank + 17
  let w = ''
  while (n > 0 || w.length < 4) {
    w += c[n % c.length]! + v[Math.floor(n / c.length) % v.length]!
    n = Math.floor(n / (c.length * v.length))
  }
  return w
}

/** Zipf (s = 1) sampler over the vocabulary. */
function zipf(rand: () => number) {
  const cdf = new Float64Array(VOCABULARY)
  let sum = 0
  for (let r = 0; r < VOCABULARY; r++) cdf[r] = sum += 1 / (r + 1)
  return () => {
    const x = rand() * sum
    let lo = 0
    let hi = VOCABULARY - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cdf[mid]! < x) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

const iso = (ms: number) => new Date(ms).toISOString()
const N = '\\N'

/** COPY FROM STDIN into `table`, fed by an async generator of text-format lines (buffered in 256 KB chunks). */
async function copyInto(sql: Sql, table: string, columns: string, rows: () => Generator<string>): Promise<number> {
  let count = 0
  async function* chunks() {
    let buf = ''
    for (const line of rows()) {
      buf += line
      count++
      if (buf.length > 262_144) { yield buf; buf = '' }
    }
    if (buf !== '') yield buf
  }
  const w = await sql.unsafe(`copy ${table} (${columns}) from stdin`).writable()
  await pipeline(Readable.from(chunks()), w)
  return count
}

/** Secondary indexes of `tables` (not those backing a constraint): dropped now, their definitions returned. */
async function dropIndexes(sql: Sql, tables: string[]): Promise<string[]> {
  const rows = await sql<{ indexname: string; indexdef: string }[]>`
    select indexname, indexdef from pg_indexes
     where schemaname = 'public' and tablename = any(${tables})
       and indexname not in (select conname from pg_constraint)`
  for (const r of rows) await sql.unsafe(`drop index ${r.indexname}`)
  return rows.map((r) => r.indexdef)
}

export type ArchiveSize = { conversations: number; messages: number; reportingEvents: number; csat: number; contacts: number; seconds: number; bytes: number }

export async function buildArchive(sql: Sql, conversations: number, log: (s: string) => void): Promise<ArchiveSize> {
  const t0 = performance.now()
  const start = END - YEAR_MS
  await sql`select ensure_message_partitions(${new Date(start).toISOString().slice(0, 10)}::date, 14)`
  const dropped = await dropIndexes(sql, ['messages', 'conversations', 'reporting_events', 'contacts', 'csat_responses'])
  const hours = JSON.stringify({ timezone: 'Europe/Berlin', weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri'].map((d) => [d, [{ open: '09:00', close: '17:00' }]])) })
  await sql`insert into accounts (id, name) values (${ACCOUNT}, 'Bench')`
  for (const [i, id] of INBOXES.entries()) {
    await sql`insert into inboxes (id, account_id, name, website_token, business_hours) values (${id}, ${ACCOUNT}, ${`Inbox ${i}`}, ${`wt_${id}`}, ${i % 2 === 0 ? sql.json(JSON.parse(hours)) : null})`
  }
  for (const [i, id] of AGENTS.entries()) {
    await sql`insert into agents (id, account_id, name) values (${id}, ${ACCOUNT}, ${`Agent ${String(i).padStart(2, '0')}`})`
    await sql`insert into inbox_members (inbox_id, agent_id) values (${INBOXES[Math.floor(i / 5)]!}, ${id})`
    if (i % 5 === 0) await sql`insert into inbox_members (inbox_id, agent_id) values (${INBOXES[(Math.floor(i / 5) + 1) % 10]!}, ${id})`
  }
  const contacts = Math.ceil(conversations * 0.7)
  const cid = (i: number) => `ct_bench${String(i).padStart(17, '0')}`
  const vid = (i: number) => `cv_bench${String(i).padStart(17, '0')}`
  const nContacts = await copyInto(sql, 'contacts', 'id, account_id, name, email, identifier', function* () {
    const rand = mulberry32(7)
    for (let i = 0; i < contacts; i++) {
      const first = word(Math.floor(rand() * VOCABULARY))
      const last = word(Math.floor(rand() * VOCABULARY))
      yield `${cid(i)}\t${ACCOUNT}\t${first} ${last}\t${first}.${last}${i}@example.com\t${i % 3 === 0 ? `cust-${i}` : N}\n`
    }
  })
  log(`contacts: ${nContacts}`)

  // one pass per table over the same per-conversation PRNG seeds, so the tables agree
  type Conv = { i: number; rand: () => number; at: number; inbox: number; agent: string; resolved: boolean; times: number[] }
  function* convs(): Generator<Conv> {
    for (let i = 0; i < conversations; i++) {
      const rand = mulberry32(1000 + i)
      const at = start + Math.floor((i / conversations) * YEAR_MS) + Math.floor(rand() * 60_000)
      const inbox = Math.floor(rand() * 10)
      const agent = AGENTS[inbox * 5 + Math.floor(rand() * 5)]!
      const resolved = rand() < 0.8
      const times: number[] = []
      let t = at
      for (let m = 0; m < 10; m++) times.push((t += 5_000 + Math.floor(rand() ** 3 * 4 * 3_600_000)))
      yield { i, rand, at, inbox, agent, resolved, times }
    }
  }
  const nConv = await copyInto(sql, 'conversations', 'id, account_id, inbox_id, contact_id, display_id, status, assignee_id, first_reply_created_at, last_activity_at, created_at, updated_at', function* () {
    for (const c of convs()) {
      const status = c.resolved ? 'resolved' : c.rand() < 0.75 ? 'open' : 'pending'
      const last = c.times[9]! + (c.resolved ? 60_000 : 0)
      yield `${vid(c.i)}\t${ACCOUNT}\t${INBOXES[c.inbox]}\t${cid(c.i % contacts)}\t${c.i + 1}\t${status}\t${c.agent}\t${iso(c.times[1]!)}\t${iso(last)}\t${iso(c.at)}\t${iso(last)}\n`
    }
  })
  log(`conversations: ${nConv}`)
  let bytes = 0
  const nMsg = await copyInto(sql, 'messages', 'uid, stream_id, conversation_id, account_id, inbox_id, type, content, private, sender_type, sender_id, created_at, assignee_id', function* () {
    const pick = zipf(mulberry32(99))
    for (const c of convs()) {
      for (let m = 0; m < 10; m++) {
        const words: string[] = []
        const n = 6 + Math.floor(c.rand() * 8)
        for (let k = 0; k < n; k++) words.push(word(pick()))
        const incoming = m % 2 === 0
        const note = !incoming && c.rand() < 0.05
        const line = `u${c.i}x${m}\t${c.times[m]}-0\t${vid(c.i)}\t${ACCOUNT}\t${INBOXES[c.inbox]}\t${incoming ? 'incoming' : 'outgoing'}\t${words.join(' ')}\t${note ? 't' : 'f'}\t${incoming ? 'contact' : 'agent'}\t${incoming ? cid(c.i % contacts) : c.agent}\t${iso(c.times[m]!)}\t${c.agent}\n`
        bytes += line.length
        yield line
      }
    }
  })
  log(`messages: ${nMsg}`)
  const nEvents = await copyInto(sql, 'reporting_events', 'event_key, name, value, value_in_business_hours, account_id, inbox_id, agent_id, conversation_id, event_start_time, event_end_time, created_at', function* () {
    for (const c of convs()) {
      const bh = c.inbox % 2 === 0
      const ev = (key: string, name: string, from: number, to: number) =>
        `${key}\t${name}\t${to - from}\t${bh ? Math.round((to - from) * 0.3) : N}\t${ACCOUNT}\t${INBOXES[c.inbox]}\t${c.agent}\t${vid(c.i)}\t${iso(from)}\t${iso(to)}\t${iso(to)}\n`
      yield ev(`fr:${c.i}`, 'first_response', c.at, c.times[1]!)
      for (let m = 1; m < 10; m += 2) yield ev(`rt:${c.i}:${m}`, 'reply_time', c.times[m - 1]!, c.times[m]!)
      if (c.resolved) yield ev(`cr:${c.i}`, 'conversation_resolved', c.at, c.times[9]! + 60_000)
    }
  })
  log(`reporting events: ${nEvents}`)
  const nCsat = await copyInto(sql, 'csat_responses', 'conversation_id, account_id, inbox_id, agent_id, score, comment, created_at', function* () {
    for (const c of convs()) {
      if (!c.resolved || c.rand() >= 0.3) continue
      const score = 1 + Math.min(4, Math.floor(c.rand() ** 0.5 * 5))
      yield `${vid(c.i)}\t${ACCOUNT}\t${INBOXES[c.inbox]}\t${c.agent}\t${score}\t${score < 3 ? 'too slow' : N}\t${iso(c.times[9]! + 120_000)}\n`
    }
  })
  log(`csat: ${nCsat}; rebuilding ${dropped.length} indexes`)
  // a partitioned table's index reads back as CREATE INDEX … ON ONLY: that builds no partition's index
  for (const def of dropped) await sql.unsafe(def.replace(' ON ONLY ', ' ON '))
  const r0 = performance.now()
  const [rolled] = await sql<{ n: string }[]>`select rebuild_report_rollups(${ACCOUNT}) as n`
  const [daily] = await sql<{ n: string }[]>`select count(*) as n from report_rollups_daily where account_id = ${ACCOUNT}`
  const [monthly] = await sql<{ n: string }[]>`select count(*) as n from report_rollups_monthly where account_id = ${ACCOUNT}`
  log(`report rollups: ${rolled?.n} hourly, ${daily?.n} daily and ${monthly?.n} monthly rows in ${Math.round(performance.now() - r0)} ms`)
  await sql.unsafe('vacuum analyze')
  return { conversations: nConv, messages: nMsg, reportingEvents: nEvents, csat: nCsat, contacts: nContacts, seconds: Math.round((performance.now() - t0) / 1000), bytes }
}
