// The search SQL: one ranked list of hits over an account's archive, paged by offset.
//   display id   q is a number (or #number): that conversation, first
//   contact      name, email or identifier holding every word of q as a prefix: the contact's
//                conversations, newest activity first (contacts_search_idx, migration 00004)
//   message      content matching q as web-search syntax ("quoted phrase", -not, or), ranked by
//                ts_rank_cd (messages_content_fts_idx, migration 00001)
// The visibility rule (an agent sees its inboxes' conversations) and `status` apply to every hit.
// Private notes are found: only agents and administrators search.
import type { Sql } from 'postgres'

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

export type Hit = { conversation_id: string; stream_id: string | null; kind: number; score: number }

/** Every word of q as a prefix term (`'ann':* & 'example':*`), or null when q has no word. */
export function prefixQuery(q: string): string | null {
  const words = q.toLowerCase().split(/[^\p{L}\p{N}@._+-]+/u).filter((w) => w !== '').slice(0, 8)
  if (words.length === 0) return null
  return words.map((w) => `'${w.replaceAll("'", "''").replaceAll('\\', '\\\\')}':*`).join(' & ')
}

export async function searchHits(sql: Sql, s: SearchQuery): Promise<Hit[]> {
  const inboxes = s.inboxIds === null ? null : s.inboxId === null ? s.inboxIds : s.inboxIds.filter((i) => i === s.inboxId)
  const only = inboxes === null ? (s.inboxId === null ? null : [s.inboxId]) : inboxes
  const inboxOf = (alias: 'c' | 'm') => only === null ? sql``
    : alias === 'c' ? sql`and c.inbox_id = any(${sql.array(only)}::text[])` : sql`and m.inbox_id = any(${sql.array(only)}::text[])`
  const status = s.status === null ? sql`` : sql`and c.status = ${s.status}`
  const display = /^#?(\d{1,9})$/.exec(s.q.trim())
  const prefix = prefixQuery(s.q)
  const byDisplayId = display === null ? sql`` : sql`
    select c.id as conversation_id, null::text as stream_id, 3 as kind, 0::float8 as score, c.last_activity_at as at
      from conversations c where c.account_id = ${s.accountId} and c.display_id = ${Number(display[1])} ${inboxOf('c')} ${status}
    union all`
  const byContact = prefix === null ? sql`` : sql`
    select c.id as conversation_id, null::text as stream_id, 2 as kind, 0::float8 as score, c.last_activity_at as at
      from contacts ct join conversations c on c.contact_id = ct.id and c.account_id = ${s.accountId}
     where ct.account_id = ${s.accountId}
       and to_tsvector('simple', coalesce(ct.name, '') || ' ' || coalesce(ct.email, '') || ' ' || coalesce(ct.identifier, ''))
           @@ to_tsquery('simple', ${prefix})
       ${inboxOf('c')} ${status}
    union all`
  return sql<Hit[]>`
    with hits as (
      ${byDisplayId}
      ${byContact}
      select m.conversation_id, m.stream_id, 1 as kind,
             ts_rank_cd(to_tsvector('simple', m.content), websearch_to_tsquery('simple', ${s.q}))::float8 as score, m.created_at as at
        from messages m ${s.status === null ? sql`` : sql`join conversations c on c.id = m.conversation_id`}
       where m.account_id = ${s.accountId} and to_tsvector('simple', m.content) @@ websearch_to_tsquery('simple', ${s.q})
         and m.stream_id is not null ${inboxOf('m')} ${status}
    )
    select conversation_id, stream_id, kind, score from hits
     order by kind desc, score desc, at desc, conversation_id, stream_id
     limit ${s.limit + 1} offset ${s.offset}`
}
