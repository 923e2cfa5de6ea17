// History beyond the Redis hot tail: a conversation's archived messages strictly older than a
// cursor, newest last, in the protocol's Message shape (the same fields messageFromEntry gives for
// a Redis log entry). Archive order is (created_at, stream id), the cursor a message id.
import type { Sql } from 'postgres'

export type ArchivedMessage = {
  id: string
  conversationId: string
  accountId: string
  inboxId: string
  type: string
  content: string | null
  contentType: string
  contentAttributes: Record<string, unknown>
  private: boolean
  echoId: string | null
  sourceId: string | null
  status: string
  sender: { type: string | null; id: string | null }
  createdAt: number
  uid: string
  /** set once edited or deleted (message.update / message.delete) */
  updatedAt?: number
}

export type HistoryQuery = {
  accountId: string
  conversationId: string
  /** a message id (stream id): only messages before it; null = the newest page */
  before: string | null
  /** that message's createdAt, when the caller has it (the Redis entry does); else looked up */
  beforeCreatedAt?: number | null
  limit: number
  /** agents see private notes, contacts do not */
  includePrivate: boolean
}

type Row = {
  stream_id: string; conversation_id: string; account_id: string; inbox_id: string; type: string
  content: string | null; content_type: string; content_attributes: Record<string, unknown> | null; private: boolean
  echo_id: string | null; source_id: string | null; status: string; sender_type: string | null
  sender_id: string | null; created_at: Date; uid: string; updated_at?: Date | null
}

const STREAM_ID = /^\d{1,20}(-\d{1,20})?$/

export function messageFromRow(r: Row): ArchivedMessage {
  const attrs = r.content_attributes
  return {
    id: r.stream_id,
    conversationId: r.conversation_id,
    accountId: r.account_id,
    inboxId: r.inbox_id,
    type: r.type,
    content: r.content,
    contentType: r.content_type,
    contentAttributes: attrs !== null && typeof attrs === 'object' && !Array.isArray(attrs) ? attrs : {},
    private: r.private,
    echoId: r.echo_id,
    sourceId: r.source_id,
    status: r.status,
    sender: { type: r.sender_type, id: r.sender_id },
    createdAt: r.created_at.getTime(),
    uid: r.uid,
    ...(r.updated_at instanceof Date ? { updatedAt: r.updated_at.getTime() } : {}),
  }
}

/** Where the cursor message sits in archive order; its stream-id time when it is not archived. */
async function cursorTime(sql: Sql, q: HistoryQuery, before: string): Promise<number> {
  if (typeof q.beforeCreatedAt === 'number' && Number.isFinite(q.beforeCreatedAt)) return q.beforeCreatedAt
  const [row] = await sql<{ created_at: Date }[]>`
    select created_at from messages
     where conversation_id = ${q.conversationId} and stream_id = ${before} and account_id = ${q.accountId}
     order by created_at desc limit 1`
  return row?.created_at.getTime() ?? Number(before.split('-')[0])
}

/**
 * Up to `limit` messages strictly older than `before` (all when before is null), newest last;
 * `more` says whether older ones exist in the archive.
 */
export async function historyBefore(sql: Sql, q: HistoryQuery): Promise<{ messages: ArchivedMessage[]; more: boolean }> {
  const limit = Math.max(1, Math.min(1000, Math.floor(q.limit)))
  if (q.before !== null && !STREAM_ID.test(q.before)) throw new RangeError('before must be a message id')
  const older = q.before === null
    ? sql``
    : sql`and (m.created_at, stream_id_key(m.stream_id)) < (${new Date(await cursorTime(sql, q, q.before))}, stream_id_key(${q.before}))`
  const priv = q.includePrivate ? sql`` : sql`and not m.private`
  const rows = await sql<Row[]>`
    select m.stream_id, m.conversation_id, m.account_id, m.inbox_id, m.type, m.content, m.content_type,
           m.content_attributes, m.private, m.echo_id, m.source_id, m.status, m.sender_type, m.sender_id,
           m.created_at, m.uid, m.updated_at
      from messages m
     where m.conversation_id = ${q.conversationId} and m.account_id = ${q.accountId}
       and m.stream_id is not null
       ${older} ${priv}
     order by m.created_at desc, stream_id_key(m.stream_id) desc
     limit ${limit + 1}`
  const more = rows.length > limit
  return { messages: rows.slice(0, limit).reverse().map(messageFromRow), more }
}

/**
 * One archived message by its conversation and message id, and the echoId or sourceId a repeat
 * names (so a stream id reused after a failover never answers for another message); null when the
 * archive does not hold it (yet).
 */
export async function archivedMessage(
  sql: Sql, q: { accountId: string; conversationId: string; id: string } & ({ echoId: string } | { sourceId: string }),
): Promise<ArchivedMessage | null> {
  const [row] = await sql<Row[]>`
    select stream_id, conversation_id, account_id, inbox_id, type, content, content_type, content_attributes,
           private, echo_id, source_id, status, sender_type, sender_id, created_at, uid, updated_at
      from messages
     where conversation_id = ${q.conversationId} and stream_id = ${q.id} and account_id = ${q.accountId}
       and ${'echoId' in q ? sql`echo_id = ${q.echoId}` : sql`source_id = ${q.sourceId}`}
     order by created_at
     limit 1`
  return row === undefined ? null : messageFromRow(row)
}


/**
 * One archived message by its conversation and message id (the newest, should a stream id have been
 * reused after a failover: the log holds the newest), or null.
 */
export async function archivedMessageById(sql: Sql, q: { accountId: string; conversationId: string; id: string }): Promise<ArchivedMessage | null> {
  const [row] = await sql<Row[]>`
    select stream_id, conversation_id, account_id, inbox_id, type, content, content_type, content_attributes,
           private, echo_id, source_id, status, sender_type, sender_id, created_at, uid, updated_at
      from messages
     where conversation_id = ${q.conversationId} and stream_id = ${q.id} and account_id = ${q.accountId}
     order by created_at desc
     limit 1`
  return row === undefined ? null : messageFromRow(row)
}
