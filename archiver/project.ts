// Pure projection of partition-stream events onto archive rows (no I/O). One batch of events in
// stream order gives, per table, the rows to upsert; for rows written by several events (a
// conversation, a contact) only the newest event's state is kept, since a multi-row upsert may
// touch a row once.
import type { StreamEvent } from '../lua/codec.js';
import {
  arr, BadEventError, conversationRow, conversationTouchRow, isObj, messageRow, num, obj, reqStr, str, sub, time,
  type AccountRow, type AgentAvailabilityRow, type AgentRow, type ContactInboxRow, type ContactRow,
  type ConversationRow, type ConversationTouchRow, type CsatRow, type InboxMemberRow, type InboxRow, type InboxSettingRow, type InboxHoursRow, type MessageRow,
  type MessageUpdateRow, type Obj, type SeenRow, type AgentProfileRow, type AgentRemovalRow, type InboxProfileRow,
} from './rows.js';
import { compareStreamIds } from './stream-id.js';

export { BadEventError };

export type Projection = {
  accounts: AccountRow[];
  inboxes: InboxRow[];
  agents: AgentRow[];
  inboxMembers: InboxMemberRow[];
  contacts: ContactRow[];
  contactInboxes: ContactInboxRow[];
  conversations: ConversationRow[];
  /** message.created's brief (`partial: true`): lastActivityAt only, newest per conversation */
  conversationTouches: ConversationTouchRow[];
  messages: MessageRow[];
  /** message.updated: edits and deletions, written in place (newest per message) */
  messageUpdates: MessageUpdateRow[];
  csat: CsatRow[];
  contactSeen: SeenRow[];
  agentAvailability: AgentAvailabilityRow[];
  inboxSettings: InboxSettingRow[];
  /** inbox.updated with businessHours (null = cleared) */
  inboxHours: InboxHoursRow[];
  inboxProfiles: InboxProfileRow[];
  agentProfiles: AgentProfileRow[];
  agentRemovals: AgentRemovalRow[];
  /** events of a type the archiver does not store (counted, acknowledged) */
  ignored: number;
};

/** The event types the archiver stores something for (any other one that carries a conversation
 * updates that conversation; the rest is acknowledged and counted as ignored). */
export const KNOWN_TYPES = new Set([
  'account.created', 'inbox.created', 'inbox.updated', 'agent.created', 'agent.updated', 'contact.created',
  'contact.updated', 'conversation.created', 'conversation.updated', 'conversation.seen', 'conversation.rated',
  'message.created', 'agent.removed', 'message.updated',
]);

/** An event the archiver writes nothing for. */
export function isIgnored(e: StreamEvent): boolean {
  return !KNOWN_TYPES.has(e.type) && !isObj(e.data['conversation']);
}

/** Newer event first? (ts, then stream id) */
function newer(a: { ts: number; id: string }, b: { ts: number; id: string }): boolean {
  return a.ts !== b.ts ? a.ts > b.ts : compareStreamIds(a.id, b.id) > 0;
}

/** Keeps, per key, the row of the newest event. */
function latest<R>() {
  const rows = new Map<string, { row: R; ts: number; id: string }>();
  return {
    put(key: string, row: R, e: { ts: number; id: string }): void {
      const cur = rows.get(key);
      if (cur === undefined || !newer(cur, e)) rows.set(key, { row, ts: e.ts, id: e.id });
    },
    /** Sorted by key: concurrent writers lock rows in one order (no deadlocks). */
    list(): R[] {
      return [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v.row);
    },
  };
}

/** The rows a batch projects to, each keeping the newest event's row per key. */
function createSinks() {
  return {
    accounts: latest<AccountRow>(),
    inboxes: latest<InboxRow>(),
    agents: latest<AgentRow>(),
    members: latest<InboxMemberRow>(),
    contacts: latest<ContactRow>(),
    contactInboxes: latest<ContactInboxRow>(),
    conversations: latest<ConversationRow>(),
    touches: latest<ConversationTouchRow>(),
    messages: latest<MessageRow>(),
    messageUpdates: latest<MessageUpdateRow>(),
    csat: latest<CsatRow>(),
    seen: new Map<string, SeenRow>(),
    availability: latest<AgentAvailabilityRow>(),
    inboxSettings: latest<InboxSettingRow>(),
    inboxHours: latest<InboxHoursRow>(),
    inboxProfiles: latest<InboxProfileRow>(),
    agentProfiles: latest<AgentProfileRow>(),
    agentRemovals: latest<AgentRemovalRow>(),
  };
}
type Sinks = ReturnType<typeof createSinks>;

/** Directory events (account, inbox, agent, contact) into their rows; false for any other type. */
function projectDirectory(s: Sinks, e: StreamEvent, d: Obj, at: Date, what: string): boolean {
  const { accounts, inboxes, agents, members, contacts, contactInboxes, inboxSettings, inboxHours, inboxProfiles, agentProfiles, agentRemovals, availability } = s;
  switch (e.type) {
    case 'account.created': {
      const id = reqStr(d, 'id', what);
      accounts.put(id, { id, name: str(d['name']) ?? '', created_at: time(d['createdAt']) ?? at }, e);
      break;
    }
    case 'inbox.created': {
      const id = reqStr(d, 'id', what);
      const mpm = num(d['messagesPerMinute']);
      inboxes.put(id, {
        id,
        account_id: str(d['accountId']) ?? e.accountId,
        name: str(d['name']) ?? '',
        website_token: reqStr(d, 'websiteToken', what),
        allowed_origins: arr(d['allowedOrigins']),
        messages_per_minute: mpm !== null && mpm > 0 ? Math.floor(mpm) : 200,
        auto_assign: d['autoAssign'] !== false,
        created_at: time(d['createdAt']) ?? at,
        updated_at: at,
      }, e);
      break;
    }
    case 'inbox.updated': {
      const id = reqStr(d, 'id', what);
      if ('businessHours' in d) {
        const hours = d['businessHours'];
        inboxHours.put(id, { id, account_id: str(d['accountId']) ?? e.accountId, business_hours: isObj(hours) ? obj(hours) : null, set_at: at }, e);
      }
      if ('autoResolveAfterMs' in d) {
        const ms = num(d['autoResolveAfterMs']);
        inboxSettings.put(id, { id, account_id: str(d['accountId']) ?? e.accountId, auto_resolve_after_ms: ms, set_at: at }, e);
      }
      if (Array.isArray(d['changed'])) {
        const mpm = num(d['messagesPerMinute']);
        inboxProfiles.put(id, {
          id, account_id: str(d['accountId']) ?? e.accountId, name: str(d['name']) ?? '', allowed_origins: arr(d['allowedOrigins']),
          messages_per_minute: mpm !== null && mpm > 0 ? Math.floor(mpm) : 200, auto_assign: d['autoAssign'] !== false, at,
        }, e);
      }
      break;
    }
    case 'agent.updated': {
      const agent = sub(d, 'agent', what);
      const id = reqStr(agent, 'id', `${what}: agent`);
      const value = agent['availability'];
      if (value === 'online' || value === 'busy' || value === 'offline') {
        availability.put(id, { id, account_id: str(agent['accountId']) ?? e.accountId, availability: value, updated_at: at }, e);
      }
      if (Array.isArray(d['changed'])) {
        const max = num(agent['maxConversations']);
        agentProfiles.put(id, {
          id, account_id: str(agent['accountId']) ?? e.accountId, name: str(agent['name']) ?? '',
          role: agent['role'] === 'administrator' ? 'administrator' : 'agent',
          max_conversations: max === null ? null : Math.max(0, Math.floor(max)),
          inbox_ids: arr(agent['inboxIds']).filter((x): x is string => typeof x === 'string' && x !== ''), at,
        }, e);
      }
      break;
    }
    case 'agent.removed': {
      const id = reqStr(d, 'id', what);
      agentRemovals.put(id, { id, account_id: str(d['accountId']) ?? e.accountId, at }, e);
      break;
    }
    case 'agent.created': {
      const id = reqStr(d, 'id', what);
      const accountId = str(d['accountId']) ?? e.accountId;
      const max = num(d['maxConversations']);
      agents.put(id, {
        id,
        account_id: accountId,
        name: str(d['name']) ?? '',
        role: d['role'] === 'administrator' ? 'administrator' : 'agent',
        max_conversations: max === null ? null : Math.max(0, Math.floor(max)),
        availability: ['online', 'busy', 'offline'].includes(String(d['availability'])) ? String(d['availability']) : 'offline',
        created_at: at,
        updated_at: at,
      }, e);
      for (const inboxId of arr(d['inboxIds'])) {
        if (typeof inboxId === 'string' && inboxId !== '') {
          members.put(`${inboxId}\u0001${id}`, { inbox_id: inboxId, agent_id: id, account_id: accountId, created_at: at }, e);
        }
      }
      break;
    }
    case 'contact.created':
    case 'contact.updated': {
      const id = reqStr(d, 'id', what);
      const accountId = str(d['accountId']) ?? e.accountId;
      contacts.put(id, {
        id,
        account_id: accountId,
        name: str(d['name']),
        email: str(d['email']),
        phone: str(d['phone']),
        identifier: str(d['identifier']),
        verified: d['verified'] === true,
        custom_attributes: obj(d['customAttributes']),
        last_seen_at: time(d['lastSeenAt']),
        created_at: at,
        updated_at: at,
      }, e);
      const inboxId = str(d['inboxId']);
      if (e.type === 'contact.created' && inboxId !== null) {
        contactInboxes.put(`${id}\u0001${inboxId}`, {
          contact_id: id, inbox_id: inboxId, account_id: accountId, hmac_verified: d['verified'] === true, created_at: at,
        }, e);
      }
      break;
    }
    default:
      return false;
  }
  return true;
}

/** A conversation's own events (message, rating, seen) into their rows; false for any other type. */
function projectConversationEvent(s: Sinks, e: StreamEvent, d: Obj, at: Date, what: string): boolean {
  const { messages, messageUpdates, csat, seen } = s;
  switch (e.type) {
    case 'message.created': {
      const conv = isObj(d['conversation']) ? d['conversation'] : {};
      const m = { ...messageRow(sub(d, 'message', what), e), assignee_id: str(conv['assigneeId']) };
      messages.put(`${m.uid}\u0001${m.created_at.getTime()}`, m, e);
      break;
    }
    case 'message.updated': {
      const m = messageRow(sub(d, 'message', what), e);
      const updatedAt = time(sub(d, 'message', what)['updatedAt']) ?? at;
      messageUpdates.put(`${m.uid}\u0001${m.created_at.getTime()}`, {
        uid: m.uid, created_at: m.created_at, content: m.content, content_attributes: m.content_attributes, updated_at: updatedAt,
      }, e);
      break;
    }
    case 'conversation.rated': {
      const c = sub(d, 'conversation', what);
      const rating = (c['rating'] !== null && typeof c['rating'] === 'object' ? c['rating'] : d) as Obj;
      const score = num(rating['score']) ?? num(d['score']);
      if (score === null) throw new BadEventError(`${what}: no rating score`);
      const conversationId = reqStr(c, 'id', `${what}: conversation`);
      csat.put(conversationId, {
        conversation_id: conversationId,
        account_id: e.accountId,
        inbox_id: str(c['inboxId']) ?? reqStr(d, 'inboxId', what),
        agent_id: str(d['agentId']) ?? str(c['assigneeId']),
        score,
        comment: str(rating['comment']) ?? str(d['comment']),
        created_at: time(rating['ratedAt']) ?? time(d['ratedAt']) ?? at,
      }, e);
      break;
    }
    case 'conversation.seen': {
      const viewer = d['viewer'] !== null && typeof d['viewer'] === 'object' ? (d['viewer'] as Obj) : {};
      const contactId = str(viewer['id']);
      if (viewer['type'] === 'contact' && contactId !== null) {
        const seenAt = time(d['seenAt']) ?? at;
        const cur = seen.get(contactId);
        if (cur === undefined || cur.seen_at < seenAt) seen.set(contactId, { contact_id: contactId, seen_at: seenAt });
      }
      break;
    }
    default:
      return false;
  }
  return true;
}

/** Projects a batch (stream order). Throws BadEventError for an event it cannot read. */
export function project(events: readonly StreamEvent[]): Projection {
  const s = createSinks();
  const { conversations, touches } = s;
  let ignored = 0;

  for (const e of events) {
    const d = e.data;
    const at = new Date(e.ts);
    const what = `${e.type} ${e.id}`;
    const known = projectDirectory(s, e, d, at, what) || projectConversationEvent(s, e, d, at, what)
      || e.type === 'conversation.created' || e.type === 'conversation.updated';
    if (!known && !isObj(d['conversation'])) {
      ignored++;
      continue;
    }
    // every event that carries the conversation's state (created, updated, seen, rated, message);
    // a message's brief carries only what a message changes (older entries carry the whole view)
    const c = d['conversation'];
    if (isObj(c) && c['partial'] === true) {
      touches.put(reqStr(c, 'id', `${what}: conversation`), conversationTouchRow(c, e), e);
    } else if (c !== null && typeof c === 'object' && !Array.isArray(c)) {
      const row = conversationRow(c as Obj, e);
      conversations.put(row.id, row, e);
    } else if (e.type.startsWith('conversation.')) {
      throw new BadEventError(`${what}: \`conversation\` is missing`);
    }
  }

  return {
    accounts: s.accounts.list(),
    inboxes: s.inboxes.list(),
    agents: s.agents.list(),
    inboxMembers: s.members.list(),
    contacts: s.contacts.list(),
    contactInboxes: s.contactInboxes.list(),
    conversations: conversations.list(),
    conversationTouches: touches.list(),
    messages: s.messages.list(),
    messageUpdates: s.messageUpdates.list(),
    csat: s.csat.list(),
    contactSeen: [...s.seen.values()].sort((a, b) => (a.contact_id < b.contact_id ? -1 : 1)),
    agentAvailability: s.availability.list(),
    inboxSettings: s.inboxSettings.list(),
    inboxHours: s.inboxHours.list(),
    inboxProfiles: s.inboxProfiles.list(),
    agentProfiles: s.agentProfiles.list(),
    agentRemovals: s.agentRemovals.list(),
    ignored,
  };
}
