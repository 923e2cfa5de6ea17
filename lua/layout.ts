// The key layout guard, run by the engine and the archiver before they touch anything: the Redis
// (or cluster) records which partition tags and how many PARTITIONS its data was written with, and
// a process configured otherwise refuses to start instead of silently reading an empty keyspace
// (accounts hash to partitions by PARTITIONS: changing it moves every account).
import { LAYOUT_KEY, legacyTag } from './keys.js'
import type { RedisClient } from './client.js'

/** The current partition tags (lua/slot.ts); bumped if tags ever change again. */
export const TAGS = 'spread-1'

/** Partition numbers probed for data written with the `{p<N>}` tags of Parley 0.1. */
const LEGACY_PROBE = 1024

export type Layout = { tags: string; partitions: number }

export type LayoutCheck = { ok: true; created: boolean } | { ok: false; error: string }

function parse(raw: string): Layout | null {
  try {
    const v = JSON.parse(raw) as Partial<Layout>
    return typeof v.tags === 'string' && typeof v.partitions === 'number' ? { tags: v.tags, partitions: v.partitions } : null
  } catch {
    return null
  }
}

function compare(found: Layout | null, raw: string, partitions: number): LayoutCheck {
  if (found === null) return { ok: false, error: `${LAYOUT_KEY} holds ${JSON.stringify(raw)}, not a Parley layout: is this Redis shared with something else?` }
  if (found.tags !== TAGS) return { ok: false, error: `this Redis holds data with partition tags "${found.tags}"; this version writes "${TAGS}"` }
  if (found.partitions !== partitions) {
    return {
      ok: false,
      error: `PARTITIONS=${partitions}, but this Redis holds data laid out for PARTITIONS=${found.partitions}: ` +
        `every account would move to another partition. Set PARTITIONS=${found.partitions}.`,
    }
  }
  return { ok: true, created: false }
}

/** Does any `{p<N>}:events` / `{p<N>}:tokens` key (Parley 0.1) exist? */
async function legacyPartitions(redis: RedisClient): Promise<number[]> {
  const probes = Array.from({ length: LEGACY_PROBE }, (_, p) =>
    redis.exists(`${legacyTag(p)}:events`, `${legacyTag(p)}:tokens`).then((n) => (n > 0 ? p : -1)))
  return (await Promise.all(probes)).filter((p) => p >= 0)
}

/** Checks (and on a fresh Redis records) the layout; `ok: false` carries the operator's message. */
export async function checkLayout(redis: RedisClient, partitions: number): Promise<LayoutCheck> {
  const raw = await redis.get(LAYOUT_KEY)
  if (raw !== null) return compare(parse(raw), raw, partitions)
  const legacy = await legacyPartitions(redis)
  if (legacy.length > 0) {
    return {
      ok: false,
      error: `this Redis holds data of Parley 0.1 (partition keys {p0}…{p${Math.max(...legacy)}}), whose partition tags ` +
        'this version replaced (they did not spread over the masters of a cluster). Nothing was changed. ' +
        'Keep running the previous version on it, or start this one on an empty Redis (README "Upgrading from 0.1").',
    }
  }
  const layout: Layout = { tags: TAGS, partitions }
  const set = await redis.set(LAYOUT_KEY, JSON.stringify(layout), 'NX')
  if (set === 'OK') return { ok: true, created: true }
  const again = await redis.get(LAYOUT_KEY)
  return again === null ? { ok: false, error: `${LAYOUT_KEY} vanished while it was written` } : compare(parse(again), again, partitions)
}
