// Archive rows (column names as in the migrations) built from the protocol objects that partition
// events carry, cleaned for PostgreSQL: no NUL characters in text or jsonb, empty cjson tables as
// {}. A field the row cannot do without raises BadEventError (the entry is dead-lettered).
import type { StreamEvent } from '../lua/codec.js';

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export type AccountRow = { id: string; name: string; created_at: Date };
export type InboxRow = {
  id: string; account_id: string; name: string; website_token: string; allowed_origins: unknown[];
  messages_per_minute: number; auto_assign: boolean; created_at: Date; updated_at: Date;
};
export type AgentRow = {
  id: string; account_id: string; name: string; role: string; max_conversations: number | null;
  availability: string; created_at: Date; updated_at: Date;
};
export type InboxMemberRow = { inbox_id: string; agent_id: string; account_id: string; created_at: Date };
export type ContactRow = {
  id: string; account_id: string; name: string | null; email: string | null; phone: string | null;
  identifier: string | null; verified: boolean; custom_attributes: Obj; last_seen_at: Date | null;
  created_at: Date; updated_at: Date;
};
export type ContactInboxRow = { contact_id: string; inbox_id: string; account_id: string; hmac_verified: boolean; created_at: Date };
/** A message's change to a conversation (message.created's `conversation` brief, `partial: true`):
 * PostgreSQL takes its lastActivityAt when the event is newer than the row (archiver/sql/conversations.ts). */
export type ConversationTouchRow = { id: string; last_activity_at: Date; updated_at: Date; event_id: string };

export type ConversationRow = {
  id: string; account_id: string; inbox_id: string; contact_id: string; display_id: number; status: string;
  priority: string | null; assignee_id: string | null; waiting_since: Date | null; first_reply_created_at: Date | null;
  last_activity_at: Date; agent_last_seen_at: Date | null; assignee_last_seen_at: Date | null;
  contact_last_seen_at: Date | null; snoozed_until: Date | null; custom_attributes: Obj; additional_attributes: Obj;
  branch: string | null; region: string | null; rating_score: number | null; rating_comment: string | null;
  rated_at: Date | null; created_at: Date; updated_at: Date; event_id: string;
};
export type MessageRow = {
  uid: string; stream_id: string; conversation_id: string; account_id: string; inbox_id: string; type: string;
  content: string | null; content_type: string; content_attributes: Obj; private: boolean; echo_id: string | null;
  source_id: string | null; status: string; sender_type: string | null; sender_id: string | null; created_at: Date;
  /** the conversation's assignee when the message came in (message.created's conversation), for reports */
  assignee_id?: string | null;
};
/** An edit or deletion of an archived message (message.updated): its content as it now is. */
export type MessageUpdateRow = { uid: string; created_at: Date; content: string | null; content_attributes: Obj; updated_at: Date };
export type CsatRow = {
  conversation_id: string; account_id: string; inbox_id: string; agent_id: string | null; score: number;
  comment: string | null; created_at: Date;
};
export type SeenRow = { contact_id: string; seen_at: Date };
export type AgentAvailabilityRow = { id: string; account_id: string; availability: string; updated_at: Date };
/** An inbox's business hours as set (null = cleared: always open). */
export type InboxHoursRow = { id: string; account_id: string; business_hours: Obj | null; set_at: Date };
export type InboxSettingRow = { id: string; account_id: string; auto_resolve_after_ms: number | null; set_at: Date };
/** An admin's change of an inbox (inbox.updated with `changed`): its settings as they now are. */
export type InboxProfileRow = {
  id: string; account_id: string; name: string; allowed_origins: unknown[]; messages_per_minute: number; auto_assign: boolean; at: Date;
};
/** An admin's change of an agent (agent.updated with `changed`): its profile and inboxes as they now are. */
export type AgentProfileRow = {
  id: string; account_id: string; name: string; role: string; max_conversations: number | null; inbox_ids: string[]; at: Date;
};
export type AgentRemovalRow = { id: string; account_id: string; at: Date };

/** A malformed event: the batch writer dead-letters it instead of wedging the stream. */
export class BadEventError extends Error {
  override readonly name = 'BadEventError';
}

// ---- value helpers --------------------------------------------------------------------------

const NUL = /\u0000/g;

/** Text without NUL characters (PostgreSQL text and jsonb refuse them). */
export function cleanText(s: string): string {
  return s.includes('\u0000') ? s.replace(NUL, '\uFFFD') : s;
}

function cleanJson(v: unknown): unknown {
  if (typeof v === 'string') return cleanText(v);
  if (Array.isArray(v)) return v.map(cleanJson);
  if (v !== null && typeof v === 'object') {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v as Obj)) out[cleanText(k)] = cleanJson(x);
    return out;
  }
  return v;
}

export function obj(v: unknown): Obj {
  // cjson encodes an empty table as {} or [] depending on how it was built; both mean "nothing"
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return {};
  return cleanJson(v) as Obj;
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? (cleanJson(v) as unknown[]) : [];
}

export function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? cleanText(v) : null;
}

export function reqStr(o: Obj, field: string, what: string): string {
  const v = o[field];
  if (typeof v !== 'string' || v === '') throw new BadEventError(`${what}: \`${field}\` is missing`);
  return cleanText(v);
}

export function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function time(v: unknown): Date | null {
  const n = num(v);
  return n === null ? null : new Date(n);
}

function reqTime(o: Obj, field: string, what: string): Date {
  const d = time(o[field]);
  if (d === null) throw new BadEventError(`${what}: \`${field}\` is not a time`);
  return d;
}

export function sub(data: Obj, field: string, what: string): Obj {
  const v = data[field];
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new BadEventError(`${what}: \`${field}\` is missing`);
  return v as Obj;
}

// ---- rows -----------------------------------------------------------------------------------

export function conversationRow(c: Obj, e: StreamEvent): ConversationRow {
  const what = `${e.type} ${e.id}: conversation`;
  const rating = c['rating'] !== null && typeof c['rating'] === 'object' && !Array.isArray(c['rating']) ? (c['rating'] as Obj) : null;
  const displayId = num(c['displayId']);
  if (displayId === null) throw new BadEventError(`${what}: \`displayId\` is missing`);
  return {
    id: reqStr(c, 'id', what),
    account_id: reqStr(c, 'accountId', what),
    inbox_id: reqStr(c, 'inboxId', what),
    contact_id: reqStr(c, 'contactId', what),
    display_id: displayId,
    status: reqStr(c, 'status', what),
    priority: str(c['priority']),
    assignee_id: str(c['assigneeId']),
    waiting_since: time(c['waitingSince']),
    first_reply_created_at: time(c['firstReplyCreatedAt']),
    last_activity_at: time(c['lastActivityAt']) ?? reqTime(c, 'createdAt', what),
    agent_last_seen_at: time(c['agentLastSeenAt']),
    assignee_last_seen_at: time(c['assigneeLastSeenAt']),
    contact_last_seen_at: time(c['contactLastSeenAt']),
    snoozed_until: time(c['snoozedUntil']),
    custom_attributes: obj(c['customAttributes']),
    additional_attributes: obj(c['additionalAttributes']),
    branch: str(c['branch']),
    region: str(c['region']),
    rating_score: rating === null ? null : num(rating['score']),
    rating_comment: rating === null ? null : str(rating['comment']),
    rated_at: rating === null ? null : time(rating['ratedAt']),
    created_at: reqTime(c, 'createdAt', what),
    updated_at: new Date(e.ts),
    event_id: e.id,
  };
}

export function conversationTouchRow(c: Obj, e: StreamEvent): ConversationTouchRow {
  const what = `${e.type} ${e.id}: conversation`;
  return { id: reqStr(c, 'id', what), last_activity_at: reqTime(c, 'lastActivityAt', what), updated_at: new Date(e.ts), event_id: e.id };
}

export function messageRow(m: Obj, e: StreamEvent): MessageRow {
  const what = `${e.type} ${e.id}: message`;
  const sender = m['sender'] !== null && typeof m['sender'] === 'object' ? (m['sender'] as Obj) : {};
  return {
    uid: reqStr(m, 'uid', what),
    stream_id: reqStr(m, 'id', what),
    conversation_id: reqStr(m, 'conversationId', what),
    account_id: reqStr(m, 'accountId', what),
    inbox_id: reqStr(m, 'inboxId', what),
    type: reqStr(m, 'type', what),
    content: typeof m['content'] === 'string' ? cleanText(m['content']) : null,
    content_type: str(m['contentType']) ?? 'text',
    content_attributes: obj(m['contentAttributes']),
    private: m['private'] === true,
    echo_id: str(m['echoId']),
    source_id: str(m['sourceId']),
    status: str(m['status']) ?? 'sent',
    sender_type: str(sender['type']),
    sender_id: str(sender['id']),
    created_at: reqTime(m, 'createdAt', what),
  };
}
