// Archived conversations as the engine needs them for retention: the row, its message count (the
// hash's msgCount counts every log entry ever appended, so "count = msgCount" means every message
// is archived) and the newest messages of its log, in the protocol's shapes.
import type { Sql } from 'postgres'
import { CONVERSATION_FIELDS, type Conversation } from '../views.js'
import { messageFromRow, type ArchivedMessage } from './history.js'

export type ArchivedConversationRow = {
  id: string; account_id: string; inbox_id: string; contact_id: string; display_id: number; status: string
  priority: string | null; assignee_id: string | null; waiting_since: Date | null; first_reply_created_at: Date | null
  last_activity_at: Date; agent_last_seen_at: Date | null; assignee_last_seen_at: Date | null; contact_last_seen_at: Date | null
  snoozed_until: Date | null; custom_attributes: unknown; additional_attributes: unknown; branch: string | null
  region: string | null; rating_score: number | null; rating_comment: string | null; rated_at: Date | null; created_at: Date
  /** archived messages of the conversation */
  msg_count: number
  /** archived incoming messages after the assignee last saw it (the unread badge) */
  unread: number
}

/** The select list of an archived conversation row, with its message and unread counts (or zeros without `counts`). */
function rowColumns(sql: Sql, counts = true) {
  if (!counts) {
    return sql`
    c.id, c.account_id, c.inbox_id, c.contact_id, c.display_id, c.status, c.priority, c.assignee_id, c.waiting_since,
    c.first_reply_created_at, c.last_activity_at, c.agent_last_seen_at, c.assignee_last_seen_at, c.contact_last_seen_at,
    c.snoozed_until, c.custom_attributes, c.additional_attributes, c.branch, c.region, c.rating_score, c.rating_comment,
    c.rated_at, c.created_at, 0 as msg_count, 0 as unread`
  }
  return sql`
    c.id, c.account_id, c.inbox_id, c.contact_id, c.display_id, c.status, c.priority, c.assignee_id, c.waiting_since,
    c.first_reply_created_at, c.last_activity_at, c.agent_last_seen_at, c.assignee_last_seen_at, c.contact_last_seen_at,
    c.snoozed_until, c.custom_attributes, c.additional_attributes, c.branch, c.region, c.rating_score, c.rating_comment,
    c.rated_at, c.created_at,
    (select count(*) from messages m where m.conversation_id = c.id)::int as msg_count,
    (select count(*) from messages m where m.conversation_id = c.id and m.type = 'incoming'
       and m.created_at > coalesce(c.assignee_last_seen_at, '-infinity'::timestamptz))::int as unread`
}

/** The rows (with counts) of the given conversation ids that the archive has. */
export async function archivedConversations(sql: Sql, ids: readonly string[], opts: { counts?: boolean } = {}): Promise<ArchivedConversationRow[]> {
  if (ids.length === 0) return []
  return sql<ArchivedConversationRow[]>`select ${rowColumns(sql, opts.counts ?? true)} from conversations c where c.id = any(${ids as string[]})`
}

export type ArchivedListQuery = {
  accountId: string
  inboxIds: readonly string[]
  status: string
  /** null: any assignee; '' : unassigned; else that agent */
  assigneeId: string | null
  /** rows strictly after this (lastActivityAt ms, id), in the list's order */
  after: { score: number; id: string } | null
  /** ids to leave out (the ones Redis holds: its copy is the live one) */
  exclude: readonly string[]
  limit: number
}

/** Rows after (at, id) in the list's order. */
function afterRow(sql: Sql, at: Date, id: string) {
  return sql`and (c.last_activity_at < ${at} or (c.last_activity_at = ${at} and c.id collate "C" < ${id}))`
}

/**
 * One page of an account's archived conversations with a status, in conversation.list's order:
 * lastActivityAt descending, then id descending by code point (`collate "C"`, as JavaScript compares
 * the ids, so a cursor means the same thing to Redis and PostgreSQL). Uses conversations_list_idx.
 */
export async function archivedConversationPage(sql: Sql, q: ArchivedListQuery): Promise<ArchivedConversationRow[]> {
  if (q.inboxIds.length === 0 || q.limit <= 0) return []
  return sql<ArchivedConversationRow[]>`
    select ${rowColumns(sql)}
      from conversations c
     where c.account_id = ${q.accountId} and c.inbox_id = any(${q.inboxIds as string[]}) and c.status = ${q.status}
       ${q.assigneeId === null ? sql`` : q.assigneeId === '' ? sql`and c.assignee_id is null` : sql`and c.assignee_id = ${q.assigneeId}`}
       ${q.after === null ? sql`` : afterRow(sql, new Date(q.after.score), q.after.id)}
       ${q.exclude.length === 0 ? sql`` : sql`and c.id <> all(${q.exclude as string[]})`}
     order by c.last_activity_at desc, c.id collate "C" desc
     limit ${q.limit}`
}

/** The newest `limit` archived messages of a conversation, in stream-id order (oldest first). */
export async function archivedTail(sql: Sql, accountId: string, conversationId: string, limit: number): Promise<ArchivedMessage[]> {
  if (limit <= 0) return []
  const rows = await sql<Parameters<typeof messageFromRow>[0][]>`
    select m.stream_id, m.conversation_id, m.account_id, m.inbox_id, m.type, m.content, m.content_type,
           m.content_attributes, m.private, m.echo_id, m.source_id, m.status, m.sender_type, m.sender_id,
           m.created_at, m.uid
      from messages m
     where m.conversation_id = ${conversationId} and m.account_id = ${accountId} and m.stream_id is not null
     order by stream_id_key(m.stream_id) desc, m.created_at desc
     limit ${limit}`
  return rows.reverse().map(messageFromRow)
}

const ms = (d: Date | null): number | null => (d === null ? null : d.getTime())
/** A jsonb column read as a plain object ({} for anything else). */
export const object = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {}

/** The protocol's Conversation from an archived row (conversationFromHash's twin). */
export function conversationFromRow(r: ArchivedConversationRow): Conversation {
  const c: Record<string, unknown> = {
    id: r.id, displayId: r.display_id, accountId: r.account_id, inboxId: r.inbox_id, contactId: r.contact_id, status: r.status,
    priority: r.priority, assigneeId: r.assignee_id, waitingSince: ms(r.waiting_since),
    firstReplyCreatedAt: ms(r.first_reply_created_at), lastActivityAt: ms(r.last_activity_at),
    agentLastSeenAt: ms(r.agent_last_seen_at), assigneeLastSeenAt: ms(r.assignee_last_seen_at),
    contactLastSeenAt: ms(r.contact_last_seen_at), snoozedUntil: ms(r.snoozed_until), unreadCount: r.unread,
    customAttributes: object(r.custom_attributes), additionalAttributes: object(r.additional_attributes),
    branch: r.branch, region: r.region,
    rating: r.rating_score === null ? null : { score: r.rating_score, comment: r.rating_comment, ratedAt: ms(r.rated_at) },
    createdAt: ms(r.created_at),
  }
  return c as Conversation
}

/**
 * The conversation hash for an archived row, as the Lua scripts write it (numbers as decimal text,
 * JSON fields as JSON text, null fields left out), with msgCount = the archived count.
 */
export function hashFromRow(r: ArchivedConversationRow, extra: Record<string, string> = {}): Record<string, string> {
  const c = conversationFromRow(r)
  const h: Record<string, string> = {}
  for (const f of CONVERSATION_FIELDS) {
    const v = c[f]
    if (v === null || v === undefined) continue
    h[f] = typeof v === 'object' ? JSON.stringify(v) : String(v)
  }
  h['msgCount'] = String(r.msg_count)
  return { ...h, ...extra }
}
