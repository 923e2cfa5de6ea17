// Reporting events as Chatwoot defines them (values in ms), computed from the partition stream:
//   first_response         the first human reply: createdAt - (latest reopen, else conversation createdAt)
//   reply_time             a human reply while the contact waited: createdAt - waitedSince
//   conversation_resolved  status -> resolved: ts - conversation createdAt (grows across reopens)
//   conversation_opened    resolved -> open: ts - the latest resolution (0 when none is known)
// A human reply is a message.created of type outgoing, not private, sent by an agent. agent_id is
// the sender for first_response, the conversation's assignee otherwise. event_key is derived from
// the source event's uid, so a replayed batch inserts nothing twice (on conflict (event_key)).
// The pure part takes the conversations' earlier resolutions/reopens (StatusHistory) and adds the
// batch's own as it walks the events in stream order.
import type { Sql, TransactionSql } from 'postgres';
import type { StreamEvent } from '../lua/codec.js';

type Obj = Record<string, unknown>;

export type ReportingEventRow = {
  event_key: string;
  name: 'first_response' | 'reply_time' | 'conversation_resolved' | 'conversation_opened';
  value: number;
  account_id: string;
  inbox_id: string | null;
  agent_id: string | null;
  conversation_id: string;
  event_start_time: Date;
  event_end_time: Date;
  created_at: Date;
};

/** Per conversation: end times (ms) of its known conversation_resolved / conversation_opened events. */
export type StatusHistory = Map<string, { resolved: number[]; opened: number[] }>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const numOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const strOrNull = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** The latest time in `list` at or before `t`, or null. */
function latestAtOrBefore(list: readonly number[], t: number): number | null {
  let best: number | null = null;
  for (const x of list) if (x <= t && (best === null || x > best)) best = x;
  return best;
}

function isHumanReply(m: Obj): boolean {
  return m['type'] === 'outgoing' && m['private'] !== true && isObj(m['sender']) && m['sender']['type'] === 'agent';
}

function statusChanged(d: Obj): boolean {
  return Array.isArray(d['changed']) && d['changed'].includes('status');
}

/** Conversations whose earlier resolutions/reopens the batch needs (load them before computing). */
export function conversationsNeedingHistory(events: readonly StreamEvent[]): string[] {
  const ids = new Set<string>();
  for (const e of events) {
    const c = e.data['conversation'];
    if (!isObj(c) || typeof c['id'] !== 'string') continue;
    const m = e.data['message'];
    if ((e.type === 'message.created' && isObj(m) && isHumanReply(m)) || (e.type === 'conversation.updated' && statusChanged(e.data))) {
      ids.add(c['id']);
    }
  }
  return [...ids].sort();
}

/** The reporting events of a batch (stream order). `history` is updated with the batch's own. */
export function reportingEvents(events: readonly StreamEvent[], history: StatusHistory): ReportingEventRow[] {
  const out: ReportingEventRow[] = [];
  const hist = (id: string) => {
    let h = history.get(id);
    if (h === undefined) history.set(id, (h = { resolved: [], opened: [] }));
    return h;
  };

  for (const e of events) {
    const d = e.data;
    const c = d['conversation'];
    if (!isObj(c)) continue;
    const conversationId = strOrNull(c['id']);
    const convCreatedAt = numOrNull(c['createdAt']);
    if (conversationId === null || convCreatedAt === null) continue;
    const base = {
      account_id: e.accountId,
      inbox_id: strOrNull(c['inboxId']),
      conversation_id: conversationId,
    };
    const assignee = strOrNull(c['assigneeId']);

    if (e.type === 'message.created') {
      const m = d['message'];
      if (!isObj(m) || !isHumanReply(m)) continue;
      const uid = strOrNull(m['uid']);
      const createdAt = numOrNull(m['createdAt']);
      if (uid === null || createdAt === null) continue;
      const sender = (m['sender'] as Obj)['id'];
      if (numOrNull(c['firstReplyCreatedAt']) === createdAt) {
        const reopened = latestAtOrBefore(hist(conversationId).opened, createdAt);
        const start = reopened ?? convCreatedAt;
        out.push({
          ...base, event_key: `first_response:${uid}`, name: 'first_response', value: createdAt - start,
          agent_id: strOrNull(sender), event_start_time: new Date(start), event_end_time: new Date(createdAt),
          created_at: new Date(createdAt),
        });
      }
      const waitedSince = numOrNull(d['waitedSince']);
      if (waitedSince !== null) {
        out.push({
          ...base, event_key: `reply_time:${uid}`, name: 'reply_time', value: createdAt - waitedSince, agent_id: assignee,
          event_start_time: new Date(waitedSince), event_end_time: new Date(createdAt), created_at: new Date(createdAt),
        });
      }
      continue;
    }

    if (e.type !== 'conversation.updated' || !statusChanged(d)) continue;
    const h = hist(conversationId);
    if (c['status'] === 'resolved') {
      out.push({
        ...base, event_key: `conversation_resolved:${e.uid}`, name: 'conversation_resolved', value: e.ts - convCreatedAt,
        agent_id: assignee, event_start_time: new Date(convCreatedAt), event_end_time: new Date(e.ts),
        created_at: new Date(e.ts),
      });
      h.resolved.push(e.ts);
    } else if (c['status'] === 'open') {
      const lastResolved = latestAtOrBefore(h.resolved, e.ts);
      const previous = strOrNull(d['previousStatus']);
      let fromResolved: boolean;
      if (previous !== null) {
        fromResolved = previous === 'resolved';
      } else {
        // older events do not say what the status was: reopened from resolved when the latest
        // known status event before this one is a resolution
        const lastOpened = latestAtOrBefore(h.opened, e.ts);
        fromResolved = lastResolved !== null && (lastOpened === null || lastOpened < lastResolved);
      }
      if (!fromResolved) continue;
      out.push({
        ...base, event_key: `conversation_opened:${e.uid}`, name: 'conversation_opened',
        value: lastResolved === null ? 0 : e.ts - lastResolved, agent_id: assignee,
        event_start_time: new Date(lastResolved ?? convCreatedAt), event_end_time: new Date(e.ts),
        created_at: new Date(e.ts),
      });
      h.opened.push(e.ts);
    }
  }
  return out;
}

/** Earlier resolutions and reopens of `conversationIds`, from the archive. */
export async function loadStatusHistory(sql: Sql | TransactionSql, conversationIds: readonly string[]): Promise<StatusHistory> {
  const history: StatusHistory = new Map();
  if (conversationIds.length === 0) return history;
  const rows = await sql<{ conversation_id: string; name: string; t: Date }[]>`
    select conversation_id, name, event_end_time as t
      from reporting_events
     where conversation_id = any(${sql.array(conversationIds as string[])}::text[])
       and name in ('conversation_resolved', 'conversation_opened')
       and event_end_time is not null`;
  for (const r of rows) {
    let h = history.get(r.conversation_id);
    if (h === undefined) history.set(r.conversation_id, (h = { resolved: [], opened: [] }));
    (r.name === 'conversation_resolved' ? h.resolved : h.opened).push(r.t.getTime());
  }
  return history;
}
