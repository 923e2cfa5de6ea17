// The Redis Streams commands the archiver uses, with their raw replies parsed here (ioredis hands
// back the protocol arrays as they are). The consumer group is `archiver` on each partition
// stream; nothing here acknowledges or trims anything that is not archived. The group-level
// helpers take the group name as a last parameter (default `archiver`): the webhook dispatcher
// (archiver/webhooks/) is another consumer group, `webhooks`, on the same streams.
import type { RedisClient as Redis } from '../lua/client.js';
import { isZeroId, minStreamId, parseStreamId, streamIdMs } from './stream-id.js';

export const GROUP = 'archiver';

/** A stream entry as XREADGROUP / XAUTOCLAIM return it; fields null = the entry was deleted. */
export type Entry = { id: string; fields: string[] | null };

type Reply = unknown;

const errMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** XGROUP CREATE … 0 MKSTREAM; an existing group is fine. */
export async function ensureGroup(redis: Redis, stream: string, group = GROUP): Promise<void> {
  try {
    await redis.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM');
  } catch (err) {
    if (!/BUSYGROUP/.test(errMessage(err))) throw err;
  }
}

function parseEntries(raw: Reply): Entry[] {
  if (!Array.isArray(raw)) return [];
  const out: Entry[] = [];
  for (const item of raw) {
    if (!Array.isArray(item) || typeof item[0] !== 'string') continue;
    const fields = item[1];
    out.push({ id: item[0], fields: Array.isArray(fields) ? fields.map(String) : null });
  }
  return out;
}

/**
 * XREADGROUP GROUP archiver <consumer> COUNT <count> [BLOCK <ms>] STREAMS <stream> <id>.
 * id '>' = entries never delivered to anyone; any other id = this consumer's own pending entries
 * after it (deleted ones come back with fields null).
 */
export async function readGroup(
  redis: Redis, stream: string, consumer: string, id: string, count: number, blockMs?: number, group = GROUP,
): Promise<Entry[]> {
  const args: (string | number)[] = ['GROUP', group, consumer, 'COUNT', count];
  if (blockMs !== undefined && id === '>') args.push('BLOCK', blockMs);
  args.push('STREAMS', stream, id);
  return streamEntries(await redis.call('XREADGROUP', ...args), stream);
}

/**
 * How many replicas hold everything the master of `stream` had written when this was called: a
 * keyed read (routing the pipeline to that master, and setting the connection's replication
 * offset to the master's current one) then WAIT on the same connection.
 */
export async function replicated(redis: Redis, stream: string, replicas: number, timeoutMs: number): Promise<number> {
  const res = await redis.pipeline().exists(stream).call('WAIT', replicas, timeoutMs).exec();
  const [existsErr] = res?.[0] ?? [null];
  const [waitErr, acked] = res?.[1] ?? [new Error('no WAIT reply'), 0];
  if (existsErr !== null) throw existsErr;
  if (waitErr !== null) throw waitErr;
  return Number(acked);
}

/**
 * The entries of `stream` in an XREAD/XREADGROUP reply: RESP2 answers [[stream, entries], …],
 * RESP3 a map that ioredis hands over flat as [stream, entries, …]; null = nothing.
 */
export function streamEntries(reply: Reply, stream: string): Entry[] {
  if (!Array.isArray(reply)) return [];
  if (typeof reply[0] === 'string') {
    for (let i = 0; i + 1 < reply.length; i += 2) if (reply[i] === stream) return parseEntries(reply[i + 1]);
    return [];
  }
  for (const item of reply) if (Array.isArray(item) && item[0] === stream) return parseEntries(item[1]);
  return [];
}

export type AutoClaim = {
  /** the cursor for the next call; '0-0' when the scan went round the whole PEL */
  next: string;
  /** entries now pending with this consumer, fields included */
  claimed: Entry[];
  /** ids that were pending but no longer exist in the stream: Redis removed them from the PEL */
  deleted: string[];
};

/** Parses all three elements of an XAUTOCLAIM reply (Redis ≥ 7.0; the third is absent before). */
export function parseAutoClaim(reply: Reply): AutoClaim {
  if (!Array.isArray(reply) || typeof reply[0] !== 'string') throw new Error('XAUTOCLAIM replied with an unexpected shape');
  const entries = parseEntries(reply[1]);
  const deleted = Array.isArray(reply[2]) ? reply[2].map(String) : [];
  // a claimed entry without fields was deleted too (older servers report it that way)
  for (const e of entries) if (e.fields === null) deleted.push(e.id);
  return { next: reply[0], claimed: entries.filter((e) => e.fields !== null), deleted };
}

export async function autoClaim(
  redis: Redis, stream: string, consumer: string, minIdleMs: number, cursor: string, count: number, group = GROUP,
): Promise<AutoClaim> {
  return parseAutoClaim(await redis.call('XAUTOCLAIM', stream, group, consumer, minIdleMs, cursor, 'COUNT', count));
}

export async function ack(redis: Redis, stream: string, ids: readonly string[], group = GROUP): Promise<number> {
  if (ids.length === 0) return 0;
  return Number(await redis.call('XACK', stream, group, ...ids));
}

/** Flat [k, v, k, v] reply to an object. */
function flat(raw: Reply): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (Array.isArray(raw)) for (let i = 0; i + 1 < raw.length; i += 2) o[String(raw[i])] = raw[i + 1];
  return o;
}

export type GroupState = { name: string; lastDeliveredId: string; pending: number; lag: number | null };

/** XINFO GROUPS; [] when the stream does not exist. */
export async function groups(redis: Redis, stream: string): Promise<GroupState[]> {
  let reply: Reply;
  try {
    reply = await redis.call('XINFO', 'GROUPS', stream);
  } catch (err) {
    if (/no such key/i.test(errMessage(err))) return [];
    throw err;
  }
  if (!Array.isArray(reply)) return [];
  return reply.map((g) => {
    const o = flat(g);
    const lag = o['lag'];
    return {
      name: String(o['name']),
      lastDeliveredId: String(o['last-delivered-id'] ?? '0-0'),
      pending: Number(o['pending'] ?? 0),
      lag: lag === null || lag === undefined ? null : Number(lag),
    };
  });
}

export type PendingSummary = { count: number; min: string | null; max: string | null };

/** XPENDING <stream> <group> (the summary form). */
export async function pendingSummary(redis: Redis, stream: string, group = GROUP): Promise<PendingSummary> {
  const reply = (await redis.call('XPENDING', stream, group)) as Reply;
  if (!Array.isArray(reply)) return { count: 0, min: null, max: null };
  const count = Number(reply[0] ?? 0);
  return {
    count,
    min: count > 0 && typeof reply[1] === 'string' ? reply[1] : null,
    max: count > 0 && typeof reply[2] === 'string' ? reply[2] : null,
  };
}

/**
 * The highest id below which every entry is archived, or null when nothing may be trimmed: the
 * minimum of, for every consumer group, its oldest pending entry and its last-delivered id (an
 * entry at or below last-delivered that is not pending was acknowledged, i.e. committed), and of
 * `checkpoint`, the last id committed to PostgreSQL (null = nothing committed yet or unknown).
 */
export async function safeTrimId(redis: Redis, stream: string, checkpoint: string | null): Promise<string | null> {
  if (checkpoint === null || isZeroId(checkpoint) || parseStreamId(checkpoint) === null) return null;
  const gs = await groups(redis, stream);
  if (!gs.some((g) => g.name === GROUP)) return null;
  const bounds: (string | null)[] = [checkpoint];
  for (const g of gs) {
    if (isZeroId(g.lastDeliveredId)) return null;
    bounds.push(g.lastDeliveredId);
    if (g.pending > 0) {
      const p = await pendingSummary(redis, stream, g.name);
      if (p.min === null) return null;
      bounds.push(p.min);
    }
  }
  return minStreamId(bounds);
}

/** XTRIM <stream> MINID <id>: removes entries with an id below `minId` (never MAXLEN). */
export async function trimBelow(redis: Redis, stream: string, minId: string): Promise<number> {
  return Number(await redis.call('XTRIM', stream, 'MINID', minId));
}

/**
 * Age in ms of the oldest entry of the archiver group that is not acknowledged: the oldest
 * pending one, else the first one never delivered; 0 when the group is caught up.
 */
export async function lagMs(redis: Redis, stream: string, now: number, group = GROUP): Promise<{ lagMs: number; pending: number }> {
  const g = (await groups(redis, stream)).find((x) => x.name === group);
  if (g === undefined) return { lagMs: 0, pending: 0 };
  let oldest: string | null = null;
  if (g.pending > 0) oldest = (await pendingSummary(redis, stream, group)).min;
  if (oldest === null && g.lag !== 0) {
    const start = isZeroId(g.lastDeliveredId) ? '-' : `(${g.lastDeliveredId}`;
    const next = (await redis.call('XRANGE', stream, start, '+', 'COUNT', 1)) as Reply;
    oldest = parseEntries(next)[0]?.id ?? null;
  }
  const ms = oldest === null ? null : streamIdMs(oldest);
  return { lagMs: ms === null ? 0 : Math.max(0, now - ms), pending: g.pending };
}

export type ConsumerState = { name: string; pending: number; idleMs: number };

export async function consumers(redis: Redis, stream: string, group = GROUP): Promise<ConsumerState[]> {
  let reply: Reply;
  try {
    reply = await redis.call('XINFO', 'CONSUMERS', stream, group);
  } catch (err) {
    if (/no such key|NOGROUP/i.test(errMessage(err))) return [];
    throw err;
  }
  if (!Array.isArray(reply)) return [];
  return reply.map((c) => {
    const o = flat(c);
    return { name: String(o['name']), pending: Number(o['pending'] ?? 0), idleMs: Number(o['idle'] ?? 0) };
  });
}

/** Removes a consumer from the group, only if it has nothing pending (DELCONSUMER drops its PEL). */
export async function dropConsumerIfIdle(redis: Redis, stream: string, consumer: string, group = GROUP): Promise<boolean> {
  const mine = (await redis.call('XPENDING', stream, group, '-', '+', 1, consumer)) as Reply;
  if (Array.isArray(mine) && mine.length > 0) return false;
  await redis.call('XGROUP', 'DELCONSUMER', stream, group, consumer);
  return true;
}
