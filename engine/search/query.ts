// The search SQL: one ranked list of hits over an account's archive, paged by offset.
//   display id   q is a number (or #number): that conversation, first
//   contact      name, email or identifier holding every word of q as a prefix: the contact's
//                conversations, newest activity first, at most CONTACT_HITS (contacts_search_idx)
//   message      content matching q as web-search syntax ("quoted phrase", -not, or), ranked by
//                ts_rank_cd among CANDIDATES recent matches: read month by month from the newest
//                (one partition each, its GIN index on content_tsv, LIMIT what is still needed), so a
//                rare word costs one index probe per month and a common one stops in the newest month
// The visibility rule (an agent sees its inboxes' conversations) and `status` apply to every hit.
// Private notes are found: only agents and administrators search.
import type { Sql } from 'postgres'

/** message hits are ranked among this many recent matches (pages stop 1000 deep anyway) */
export const CANDIDATES = 1000
export const CONTACT_HITS = 200

export type SearchQuery = {
  accountId: string
  q: string
  /** null = every inbox of the account (administrators) */
  inboxIds: string[] | null
  inboxId: string | null
  status: string | null
  offset: number
  limit: number
}

export type Hit = { conversation_id: string; stream_id: string | null; kind: number; score: number; at: Date }

/** Every word of q as a prefix term (`'ann':* & 'example':*`), or null when q has no word. */
export function prefixQuery(q: string): string | null {
  const words = q.toLowerCase().split(/[^\p{L}\p{N}@._+-]+/u).filter((w) => w !== '').slice(0, 8)
  if (words.length === 0) return null
  return words.map((w) => `'${w.replaceAll("'", "''").replaceAll('\\', '\\\\')}':*`).join(' & ')
}

/** UTC month starts from the one holding `newest` back to the one holding `oldest`, newest first. */
function months(oldest: Date, newest: Date): Date[] {
  const out: Date[] = []
  let y = newest.getUTCFullYear()
  let m = newest.getUTCMonth()
  const stop = Date.UTC(oldest.getUTCFullYear(), oldest.getUTCMonth(), 1)
  for (;;) {
    const start = Date.UTC(y, m, 1)
    if (start < stop || out.length > 600) break
    out.push(new Date(start))
    if (--m < 0) { m = 11; y-- }
  }
  return out
}

export async function searchHits(sql: Sql, s: SearchQuery): Promise<Hit[]> {
  const inboxes = s.inboxIds === null ? (s.inboxId === null ? null : [s.inboxId]) : s.inboxId === null ? s.inboxIds : s.inboxIds.filter((i) => i === s.inboxId)
  const inboxC = inboxes === null ? sql`` : sql`and c.inbox_id = any(${sql.array(inboxes)}::text[])`
  const inboxM = inboxes === null ? sql`` : sql`and m.inbox_id = any(${sql.array(inboxes)}::text[])`
  const status = s.status === null ? sql`` : sql`and c.status = ${s.status}`
  const display = /^#?(\d{1,9})$/.exec(s.q.trim())
  const prefix = prefixQuery(s.q)
  const hits: Hit[] = []
  if (display !== null) {
    hits.push(...await sql<Hit[]>`
      select c.id as conversation_id, null::text as stream_id, 3 as kind, 0::float8 as score, c.last_activity_at as at
        from conversations c where c.account_id = ${s.accountId} and c.display_id = ${Number(display[1])} ${inboxC} ${status}`)
  }
  if (prefix !== null) {
    hits.push(...await sql<Hit[]>`
      select c.id as conversation_id, null::text as stream_id, 2 as kind, 0::float8 as score, c.last_activity_at as at
        from contacts ct join conversations c on c.contact_id = ct.id and c.account_id = ${s.accountId}
       where ct.account_id = ${s.accountId}
         and to_tsvector('simple', coalesce(ct.name, '') || ' ' || coalesce(ct.email, '') || ' ' || coalesce(ct.identifier, ''))
             @@ to_tsquery('simple', ${prefix})
         ${inboxC} ${status}
       order by c.last_activity_at desc, c.id
       limit ${CONTACT_HITS}`)
  }
  // messages: month by month from the newest, until CANDIDATES matches, in one transaction. First the
  // account's first and last message times, by ORDER BY … LIMIT 1 with sequential scans off: an index
  // probe per partition of messages_account_created_idx (bench:reports caught min()/max() planned as a
  // parallel seq scan of every partition, 550 ms at 1M rows, in every search)
  const found: Hit[] = []
  await sql.begin(async (tx) => {
    await tx`set local enable_seqscan = off`
    const [range] = await tx<{ oldest: Date | null; newest: Date | null }[]>`
      select (select created_at from messages where account_id = ${s.accountId} order by created_at limit 1) as oldest,
             (select created_at from messages where account_id = ${s.accountId} order by created_at desc limit 1) as newest`
    if (range?.oldest == null || range.newest == null) return
    const oldest = range.oldest
    const newest = range.newest
    // each month through its GIN index on content_tsv, a bitmap scan that stops at the LIMIT: never a
    // walk along (account_id, created_at) or a sequential scan testing every row (the planner's
    // estimate for a word it has no statistics on picks those, and they read the whole month). And a
    // plan for this month's bounds, never the prepared statement's generic plan: that one cannot see
    // that the bounds hold the whole partition, so it ANDs the GIN bitmap with one over (account_id,
    // created_at) that reads every entry of the month (bench:reports at scale 0.1: 130 of a rare
    // word's 136 ms; 4× less with custom plans, and it no longer grows with the month's size)
    await tx`set local enable_indexscan = off`
    await tx`set local plan_cache_mode = force_custom_plan`
    for (const lo of months(oldest, newest)) {
      const hi = new Date(Date.UTC(lo.getUTCFullYear(), lo.getUTCMonth() + 1, 1))
      found.push(...await tx<Hit[]>`
      select m.conversation_id, m.stream_id, 1 as kind, ts_rank_cd(m.content_tsv, websearch_to_tsquery('simple', ${s.q}))::float8 as score,
             m.created_at as at
        from messages m ${s.status === null ? tx`` : tx`join conversations c on c.id = m.conversation_id`}
       where m.account_id = ${s.accountId} and m.created_at >= ${lo} and m.created_at < ${hi}
         and m.content_tsv @@ websearch_to_tsquery('simple', ${s.q}) and m.stream_id is not null ${inboxM} ${status}
       limit ${CANDIDATES - found.length}`)
      if (found.length >= CANDIDATES) break
    }
  })
  found.sort((a, b) => b.score - a.score || b.at.getTime() - a.at.getTime() || (a.conversation_id < b.conversation_id ? -1 : 1))
  return [...hits, ...found].slice(s.offset, s.offset + s.limit + 1)
}
