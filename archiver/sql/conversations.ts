// The stream-fed rows: conversations (upsert, only when the event is newer than the row: its ts,
// then its stream id; the rows it changes are read first, so their rollups follow the assignee),
// messages (on conflict (uid, created_at) do nothing), reporting events (on conflict (event_key) do
// nothing), CSAT answers (upsert by conversation); and the dead letters and the partition checkpoint.
import type { StreamEvent } from '../../lua/codec.js';
import type { Projection } from '../project.js';
import { conversationsNeedingHistory, loadStatusHistory, reportingEvents } from '../reporting.js';
import { add, j, type Counts, type Tx } from './common.js';
import { createRollups } from './rollups.js';

export async function writeConversations(tx: Tx, events: readonly StreamEvent[], p: Projection): Promise<Counts> {
  const counts: Counts = {};
  const rollups = createRollups();
  // ---- reporting events: read the conversations' earlier resolutions/reopens, then compute ----
  const history = await loadStatusHistory(tx, conversationsNeedingHistory(events));
  const reporting = reportingEvents(events, history);

  await writeConversationRows(tx, p, rollups, counts);
  await writeMessages(tx, p, rollups, counts);
  await writeReporting(tx, reporting, rollups, counts);
  await writeCsat(tx, p, rollups, counts);
  await rollups.write(tx, counts);
  return counts;
}

type Rollups = ReturnType<typeof createRollups>;

/** Conversations: whole views upserted (their assignee's rollup rows moved), then the briefs. */
async function writeConversationRows(tx: Tx, p: Projection, rollups: Rollups, counts: Counts): Promise<void> {
  if (p.conversations.length > 0) {
    const rows = p.conversations.map((r) => ({
      ...r, custom_attributes: j(tx, r.custom_attributes), additional_attributes: j(tx, r.additional_attributes),
    }));
    // The rows as they were, locked: a conversation counts under its current assignee, so a change
    // moves it between agents' rollup rows. A statement of its own, not a subquery of the upsert
    // (which would read the statement's snapshot, possibly older than the version it updates): FOR
    // UPDATE reads the latest committed version and holds it until the upsert. By id, the upsert's order.
    const ids = p.conversations.map((c) => c.id);
    const before = new Map((await tx<{ id: string; account_id: string; assignee_id: string | null; created_at: Date }[]>`
      select id, account_id, assignee_id, created_at from conversations where id = any(${tx.array(ids)}::text[]) order by id for update`)
      .map((x) => [x.id, x]));
    const r = await tx`
      insert into conversations ${tx(rows, 'id', 'account_id', 'inbox_id', 'contact_id', 'display_id', 'status', 'priority',
        'assignee_id', 'waiting_since', 'first_reply_created_at', 'last_activity_at', 'agent_last_seen_at',
        'assignee_last_seen_at', 'contact_last_seen_at', 'snoozed_until', 'custom_attributes', 'additional_attributes',
        'branch', 'region', 'rating_score', 'rating_comment', 'rated_at', 'created_at', 'updated_at', 'event_id')}
      on conflict (id) do update set
        account_id = excluded.account_id, inbox_id = excluded.inbox_id, contact_id = excluded.contact_id,
        display_id = excluded.display_id, status = excluded.status, priority = excluded.priority,
        assignee_id = excluded.assignee_id, waiting_since = excluded.waiting_since,
        first_reply_created_at = excluded.first_reply_created_at, last_activity_at = excluded.last_activity_at,
        agent_last_seen_at = excluded.agent_last_seen_at, assignee_last_seen_at = excluded.assignee_last_seen_at,
        contact_last_seen_at = excluded.contact_last_seen_at, snoozed_until = excluded.snoozed_until,
        custom_attributes = excluded.custom_attributes, additional_attributes = excluded.additional_attributes,
        branch = excluded.branch, region = excluded.region, rating_score = excluded.rating_score,
        rating_comment = excluded.rating_comment, rated_at = excluded.rated_at, created_at = excluded.created_at,
        updated_at = excluded.updated_at, event_id = excluded.event_id
      where (conversations.updated_at, coalesce(stream_id_key(conversations.event_id), '{0,0}'))
          < (excluded.updated_at, stream_id_key(excluded.event_id))
      returning id, (xmax = 0) as inserted, account_id, inbox_id, assignee_id, created_at`;
    add(counts, 'conversations', r.count);
    // only the rows the upsert really wrote are returned (a replay, an older view: nothing moves)
    type Written = { id: string; inserted: boolean; account_id: string; inbox_id: string; assignee_id: string | null; created_at: Date };
    for (const x of r as unknown as Written[]) {
      if (x.inserted) {
        rollups.count({ account_id: x.account_id, metric: 'conversations', at: x.created_at, inbox_id: x.inbox_id, agent_id: x.assignee_id });
        continue;
      }
      const old = before.get(x.id);
      // inserted by another transaction after the read above (two writers of one conversation): which
      // agent it was counted under is unknown here, so the batch fails and is retried, reading it then
      if (old === undefined) throw new Error(`conversation ${x.id} appeared during the batch; retrying`);
      if (old.assignee_id === x.assignee_id && old.created_at.getTime() === x.created_at.getTime() && old.account_id === x.account_id) continue;
      if (old.assignee_id !== null) rollups.move({ account_id: old.account_id, metric: 'conversations', at: old.created_at, agent_id: old.assignee_id, n: -1 });
      if (x.assignee_id !== null) rollups.move({ account_id: x.account_id, metric: 'conversations', at: x.created_at, agent_id: x.assignee_id, n: 1 });
    }
  }
  if (p.conversationTouches.length > 0) {
    // after the upserts, under the same newer-than-the-row rule: a brief older than a whole view
    // written in this batch (or before) changes nothing; a row not archived yet is left to its
    // conversation.created / conversation.updated
    const t = p.conversationTouches;
    const r = await tx`
      update conversations c set last_activity_at = v.at, updated_at = v.ts, event_id = v.eid
      from unnest(${tx.array(t.map((x) => x.id), 25)}::text[], ${tx.array(t.map((x) => x.last_activity_at.toISOString()), 25)}::timestamptz[],
                  ${tx.array(t.map((x) => x.updated_at.toISOString()), 25)}::timestamptz[], ${tx.array(t.map((x) => x.event_id), 25)}::text[])
        as v(id, at, ts, eid)
      where c.id = v.id
        and (c.updated_at, coalesce(stream_id_key(c.event_id), '{0,0}')) < (v.ts, stream_id_key(v.eid))`;
    add(counts, 'conversations', r.count);
  }
}

/** Messages inserted (each counted once, when really inserted), then their edits. */
async function writeMessages(tx: Tx, p: Projection, rollups: Rollups, counts: Counts): Promise<void> {
  if (p.messages.length > 0) {
    // One array per column through unnest: the same 16 parameters whatever the batch size, so one
    // prepared statement serves every batch (a multi-row VALUES list is a new statement, with
    // 16 × rows parameters to bind, for every batch size).
    const m = p.messages;
    type Row = (typeof m)[number];
    const col = (f: (r: Row) => string | null) => tx.array(m.map(f), 25); // text[]
    const r = await tx`
      insert into messages (uid, stream_id, conversation_id, account_id, inbox_id, type, content, content_type,
                            content_attributes, private, echo_id, source_id, status, sender_type, sender_id, created_at, assignee_id)
      select * from unnest(
        ${col((r) => r.uid)}::text[], ${col((r) => r.stream_id)}::text[], ${col((r) => r.conversation_id)}::text[],
        ${col((r) => r.account_id)}::text[], ${col((r) => r.inbox_id)}::text[], ${col((r) => r.type)}::text[],
        ${col((r) => r.content)}::text[], ${col((r) => r.content_type)}::text[],
        ${col((r) => JSON.stringify(r.content_attributes))}::jsonb[], ${tx.array(m.map((r) => r.private), 16)}::boolean[],
        ${col((r) => r.echo_id)}::text[], ${col((r) => r.source_id)}::text[], ${col((r) => r.status)}::text[],
        ${col((r) => r.sender_type)}::text[], ${col((r) => r.sender_id)}::text[],
        ${col((r) => r.created_at.toISOString())}::timestamptz[], ${col((r) => r.assignee_id ?? null)}::text[])
      on conflict (uid, created_at) do nothing
      returning uid, created_at`;
    add(counts, 'messages', r.count);
    const inserted = new Set(r.map((x) => `${x['uid'] as string}\u0001${(x['created_at'] as Date).getTime()}`));
    for (const row of m) {
      if (!inserted.has(`${row.uid}\u0001${row.created_at.getTime()}`)) continue;
      if (row.type === 'incoming') rollups.count({ account_id: row.account_id, metric: 'incoming_messages', at: row.created_at, inbox_id: row.inbox_id, agent_id: row.assignee_id ?? null });
      else if (row.type === 'outgoing' && !row.private && row.sender_type === 'agent') {
        rollups.count({ account_id: row.account_id, metric: 'outgoing_messages', at: row.created_at, inbox_id: row.inbox_id, agent_id: row.sender_id });
      }
    }
  }
  if (p.messageUpdates.length > 0) {
    // after the inserts: a message created and edited in one batch is inserted, then updated.
    // The newest change wins (updated_at); a replay writes the same values again.
    const u = p.messageUpdates;
    const r = await tx`
      update messages m
         set content = x.content, content_attributes = x.content_attributes, updated_at = x.updated_at
        from unnest(${tx.array(u.map((r) => r.uid), 25)}::text[], ${tx.array(u.map((r) => r.created_at.toISOString()), 25)}::timestamptz[],
                    ${tx.array(u.map((r) => r.content), 25)}::text[], ${tx.array(u.map((r) => JSON.stringify(r.content_attributes)), 25)}::jsonb[],
                    ${tx.array(u.map((r) => r.updated_at.toISOString()), 25)}::timestamptz[])
             as x(uid, created_at, content, content_attributes, updated_at)
       where m.uid = x.uid and m.created_at = x.created_at and (m.updated_at is null or m.updated_at <= x.updated_at)`;
    add(counts, 'messages', r.count);
  }
}

/** Reporting events inserted, their business-hours values computed, the new ones counted. */
async function writeReporting(tx: Tx, reporting: ReturnType<typeof reportingEvents>, rollups: Rollups, counts: Counts): Promise<void> {
  if (reporting.length > 0) {
    const r = await tx`
      insert into reporting_events ${tx(reporting, 'event_key', 'name', 'value', 'account_id', 'inbox_id', 'agent_id',
        'conversation_id', 'event_start_time', 'event_end_time', 'created_at')}
      on conflict (event_key) do nothing
      returning event_key`;
    add(counts, 'reporting_events', r.count);
    // the same value counted inside the inbox's business hours as they are now (business_ms, 00004)
    const inBusiness = await tx`
      update reporting_events r
         set value_in_business_hours = business_ms(r.event_start_time, r.event_end_time, i.business_hours->>'timezone', i.business_hours->'weekly')
        from inboxes i
       where r.event_key = any(${tx.array(reporting.map((e) => e.event_key))}::text[]) and i.id = r.inbox_id
         and i.business_hours is not null and r.value_in_business_hours is null
         and r.event_start_time is not null and r.event_end_time is not null
      returning r.event_key, r.value_in_business_hours`;
    const fresh = new Set(r.map((x) => x['event_key'] as string));
    const bh = new Map(inBusiness.map((x) => [x['event_key'] as string, x['value_in_business_hours'] as number | null]));
    for (const e of reporting) {
      if (!fresh.has(e.event_key)) continue;
      if (e.name !== 'first_response' && e.name !== 'reply_time' && e.name !== 'conversation_resolved') continue;
      rollups.count({ account_id: e.account_id, metric: e.name, at: e.created_at, inbox_id: e.inbox_id, agent_id: e.agent_id, kind: 'time', value: e.value, value_bh: bh.get(e.event_key) ?? null });
      fresh.delete(e.event_key);
    }
  }
}

/** CSAT answers upserted by conversation; only first answers counted. */
async function writeCsat(tx: Tx, p: Projection, rollups: Rollups, counts: Counts): Promise<void> {
  if (p.csat.length > 0) {
    const r = await tx`
      insert into csat_responses ${tx(p.csat, 'conversation_id', 'account_id', 'inbox_id', 'agent_id', 'score', 'comment',
        'created_at')}
      on conflict (conversation_id) do update set
        account_id = excluded.account_id, inbox_id = excluded.inbox_id, agent_id = excluded.agent_id,
        score = excluded.score, comment = excluded.comment, created_at = excluded.created_at
      where csat_responses.created_at <= excluded.created_at
      returning conversation_id, (xmax = 0) as inserted`;
    add(counts, 'csat_responses', r.count);
    // a conversation is rated once (conversation.rate refuses a second rating): only first answers count
    const rated = new Set(r.filter((x) => x['inserted'] === true).map((x) => x['conversation_id'] as string));
    for (const c of p.csat) {
      if (rated.has(c.conversation_id)) rollups.count({ account_id: c.account_id, metric: 'csat', at: c.created_at, inbox_id: c.inbox_id, agent_id: c.agent_id, kind: 'csat', value: c.score });
    }
  }
}

export async function deadLetter(tx: Tx, partition: number, id: string, fields: readonly string[], type: string | null, uid: string | null, error: string): Promise<number> {
  const asObject: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) asObject[String(fields[i])] = String(fields[i + 1]).replaceAll('\u0000', '\uFFFD');
  const r = await tx`
    insert into archiver_dead_letters ${tx({
      dead_key: `${partition}:${id}:${uid ?? ''}`, partition, stream_id: id, event_type: type,
      fields: j(tx, asObject), error: error.slice(0, 2000).replaceAll('\u0000', '\uFFFD'),
    }, 'dead_key', 'partition', 'stream_id', 'event_type', 'fields', 'error')}
    on conflict (dead_key) do nothing`;
  return r.count;
}

export async function checkpoint(tx: Tx, partition: number, lastId: string): Promise<void> {
  await tx`
    insert into archiver_checkpoints (partition, last_id, updated_at) values (${partition}, ${lastId}, now())
    on conflict (partition) do update set last_id = excluded.last_id, updated_at = excluded.updated_at
    where stream_id_key(archiver_checkpoints.last_id) < stream_id_key(excluded.last_id)`;
}
