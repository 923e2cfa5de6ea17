// The durable delivery queue in PostgreSQL (migration 00005): insert what the stream owes, claim
// what is due, record an attempt. Order per lane (webhook × conversation or contact):
// only a lane's head is armed (next_attempt_at set) and a delivery is claimed only when nothing
// earlier in its lane is still owed; finishing a head (delivered or dead) arms the next one.
// Arming always runs after the commit that made it necessary, by both writers (intake after its
// insert, sender after its outcome), so whichever runs last sees both commits: no lane is left
// unarmed. A claim is a lease (lease_until): a crashed dispatcher's deliveries are claimed again
// once it runs out, with the same id.
import type { Sql } from 'postgres';

export const OWED = ['pending', 'failed'] as const;

export type NewDelivery = {
  id: string; webhookId: string; accountId: string; event: string; lane: string; streamMs: string; streamSeq: string; body: string;
};

export type Claimed = {
  id: string; webhook_id: string; account_id: string; event: string; lane: string; body: string; attempts: number;
};

export type Lane = { webhookId: string; lane: string };

/** Inserts the deliveries (a repeat of an id changes nothing); not armed yet. */
export async function insertDeliveries(sql: Sql, rows: readonly NewDelivery[]): Promise<number> {
  if (rows.length === 0) return 0;
  const values = rows.map((r) => ({
    id: r.id, webhook_id: r.webhookId, account_id: r.accountId, event: r.event, lane: r.lane,
    stream_ms: r.streamMs, stream_seq: r.streamSeq, body: r.body,
  }));
  const result = await sql`
    insert into webhook_deliveries ${sql(values, 'id', 'webhook_id', 'account_id', 'event', 'lane', 'stream_ms', 'stream_seq', 'body')}
    on conflict (id) do nothing`;
  return result.count;
}

/** Arms the head of each lane when it is not armed yet. */
export async function armLanes(sql: Sql, lanes: readonly Lane[]): Promise<number> {
  if (lanes.length === 0) return 0;
  const result = await sql`
    update webhook_deliveries d set next_attempt_at = now()
    from unnest(${sql.array(lanes.map((l) => l.webhookId))}::text[], ${sql.array(lanes.map((l) => l.lane))}::text[]) as k(webhook_id, lane)
    cross join lateral (
      select x.id from webhook_deliveries x
      where x.webhook_id = k.webhook_id and x.lane = k.lane and x.status in ('pending', 'failed')
      order by x.stream_ms, x.stream_seq limit 1
    ) h
    where d.id = h.id and d.next_attempt_at is null`;
  return result.count;
}

/**
 * Lanes that owe something with nothing armed: what a crash (or a failed statement) between a
 * commit and its arming left. Looked for at start and every minute.
 */
export async function unarmedLanes(sql: Sql): Promise<Lane[]> {
  const rows = await sql<{ webhook_id: string; lane: string }[]>`
    select webhook_id, lane from webhook_deliveries where status in ('pending', 'failed')
    group by webhook_id, lane having bool_and(next_attempt_at is null)`;
  return rows.map((r) => ({ webhookId: r.webhook_id, lane: r.lane }));
}

/**
 * Leases up to `limit` due deliveries, at most `perWebhook` per webhook, none of the `busy` webhooks
 * (those at their concurrency cap), never one with an earlier owed delivery in its lane.
 */
export async function claimDue(
  sql: Sql, q: { limit: number; perWebhook: number; busy: readonly string[]; leaseMs: number; owner: string },
): Promise<Claimed[]> {
  return sql<Claimed[]>`
    with due as (
      select c.id, c.webhook_id, c.next_attempt_at from webhook_deliveries c
      where c.status in ('pending', 'failed') and c.next_attempt_at is not null and c.next_attempt_at <= now()
        and (c.lease_until is null or c.lease_until < now())
        and not (c.webhook_id = any(${sql.array([...q.busy])}::text[]))
        and not exists (
          select 1 from webhook_deliveries e
          where e.webhook_id = c.webhook_id and e.lane = c.lane and e.status in ('pending', 'failed')
            and (e.stream_ms, e.stream_seq) < (c.stream_ms, c.stream_seq))
      order by c.next_attempt_at
      limit ${q.limit * 4}
    ), ranked as (
      select id, row_number() over (partition by webhook_id order by next_attempt_at) as rn from due
    ), picked as (
      select id from ranked where rn <= ${q.perWebhook} limit ${q.limit}
    )
    update webhook_deliveries d
    set lease_until = now() + ${q.leaseMs} * interval '1 millisecond', lease_owner = ${q.owner}
    from picked
    where d.id = picked.id and (d.lease_until is null or d.lease_until < now())
    returning d.id, d.webhook_id, d.account_id, d.event, d.lane, d.body, d.attempts`;
}

export type Failure = { statusCode: number | null; error: string; retryInMs: number; maxAgeMs: number };

/** Records a failed attempt; the delivery's new status, or null when the lease was lost meanwhile. */
export async function recordFailure(sql: Sql, id: string, owner: string, o: Failure): Promise<'failed' | 'dead' | null> {
  const [row] = await sql<{ status: 'failed' | 'dead' }[]>`
    update webhook_deliveries set
      attempts = attempts + 1, last_status_code = ${o.statusCode}, last_error = ${o.error.slice(0, 500)}, last_attempt_at = now(),
      status = case when now() >= window_start + ${o.maxAgeMs} * interval '1 millisecond' then 'dead' else 'failed' end,
      next_attempt_at = case when now() >= window_start + ${o.maxAgeMs} * interval '1 millisecond' then null
        else least(now() + ${o.retryInMs} * interval '1 millisecond', window_start + ${o.maxAgeMs} * interval '1 millisecond') end,
      lease_until = null, lease_owner = null
    where id = ${id} and lease_owner = ${owner}
    returning status`;
  return row?.status ?? null;
}

/**
 * Records many successful attempts in one statement (the sender batches what completes while the
 * previous batch is being written); returns the lanes whose head they were, to arm next.
 */
export async function recordDelivered(sql: Sql, owner: string, items: readonly { id: string; statusCode: number }[]): Promise<Lane[]> {
  if (items.length === 0) return [];
  const rows = await sql<{ webhook_id: string; lane: string }[]>`
    update webhook_deliveries d set status = 'delivered', attempts = d.attempts + 1, last_status_code = v.code, last_error = null,
      last_attempt_at = now(), delivered_at = now(), next_attempt_at = null, lease_until = null, lease_owner = null
    from unnest(${sql.array(items.map((i) => i.id))}::text[], ${sql.array(items.map((i) => i.statusCode))}::int[]) as v(id, code)
    where d.id = v.id and d.lease_owner = ${owner}
    returning d.webhook_id, d.lane`;
  const lanes = new Map<string, Lane>();
  for (const r of rows) lanes.set(`${r.webhook_id}\n${r.lane}`, { webhookId: r.webhook_id, lane: r.lane });
  return [...lanes.values()];
}

/** Gives a lease back without an attempt (the webhook is inactive): looked at again after `laterMs`. */
export async function postpone(sql: Sql, id: string, owner: string, laterMs: number): Promise<void> {
  await sql`
    update webhook_deliveries set lease_until = null, lease_owner = null, next_attempt_at = now() + ${laterMs} * interval '1 millisecond'
    where id = ${id} and lease_owner = ${owner}`;
}

/** A reactivated webhook's owed heads are due now. */
export async function wakeWebhook(sql: Sql, webhookId: string): Promise<void> {
  await sql`
    update webhook_deliveries set next_attempt_at = now()
    where webhook_id = ${webhookId} and status in ('pending', 'failed') and next_attempt_at is not null and next_attempt_at > now()`;
}

/** A deleted webhook's deliveries go with it. */
export async function dropWebhook(sql: Sql, webhookId: string): Promise<number> {
  return (await sql`delete from webhook_deliveries where webhook_id = ${webhookId}`).count;
}

/** Deletes delivered deliveries older than `keepMs`, a bounded number per call. */
export async function pruneDelivered(sql: Sql, keepMs: number): Promise<number> {
  const result = await sql`
    delete from webhook_deliveries where id in (
      select id from webhook_deliveries where status = 'delivered' and delivered_at < now() - ${keepMs} * interval '1 millisecond' limit 5000)`;
  return result.count;
}

export type EndpointStats = { webhookId: string; owed: number; oldestOwedMs: number; dead: number };

/** Per webhook: deliveries owed, age of the oldest owed one, dead letters (metrics). */
export async function endpointStats(sql: Sql): Promise<EndpointStats[]> {
  const owed = await sql<{ webhook_id: string; owed: string; oldest_ms: string | null }[]>`
    select webhook_id, count(*) as owed, (extract(epoch from now() - min(created_at)) * 1000)::bigint as oldest_ms
    from webhook_deliveries where status in ('pending', 'failed') group by webhook_id`;
  const dead = await sql<{ webhook_id: string; dead: string }[]>`
    select webhook_id, count(*) as dead from webhook_deliveries where status = 'dead' group by webhook_id`;
  const out = new Map<string, EndpointStats>();
  const at = (id: string) => {
    let s = out.get(id);
    if (s === undefined) out.set(id, (s = { webhookId: id, owed: 0, oldestOwedMs: 0, dead: 0 }));
    return s;
  };
  for (const r of owed) Object.assign(at(r.webhook_id), { owed: Number(r.owed), oldestOwedMs: Number(r.oldest_ms ?? 0) });
  for (const r of dead) at(r.webhook_id).dead = Number(r.dead);
  return [...out.values()];
}
