// An inbox's auto-resolve window (off by default): open conversations idle longer than
// `autoResolveAfterMs` are resolved by the scheduler (lua/autoResolve-3.lua). The setting lives on
// the inbox hash and in the partition's auto-resolve index the script reads, written with its
// inbox.updated event in one MULTI.
import type { RedisClient as Redis } from '../lua/client.js'
import { eventFields } from '../lua/codec.js'
import { keysFor, partitionOf } from '../lua/keys.js'
import { AppError } from './errors.js'
import { newUid } from './ids.js'

export const AUTO_RESOLVE_MIN_MS = 1000
export const AUTO_RESOLVE_MAX_MS = 366 * 86_400_000

/** `autoResolveAfterMs` of a body: undefined when absent, null = off, else a window in ms. */
export function readAutoResolve(o: Readonly<Record<string, unknown>>): number | null | undefined {
  const v = o['autoResolveAfterMs']
  if (v === undefined || v === null) return v
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < AUTO_RESOLVE_MIN_MS || v > AUTO_RESOLVE_MAX_MS) {
    throw new AppError('bad_request', `\`autoResolveAfterMs\` must be null or an integer from ${AUTO_RESOLVE_MIN_MS} to ${AUTO_RESOLVE_MAX_MS}`)
  }
  return v
}

export async function setInboxAutoResolve(
  deps: { redis: Redis; partitions: number; now?: () => number }, accountId: string, inboxId: string, afterMs: number | null,
): Promise<void> {
  const k = keysFor(partitionOf(accountId, deps.partitions))
  const ts = (deps.now ?? Date.now)()
  const multi = deps.redis.multi().hset(k.inbox(inboxId), 'autoResolveAfterMs', afterMs === null ? '' : String(afterMs))
  if (afterMs === null) multi.hdel(k.autoResolve, inboxId)
  else multi.hset(k.autoResolve, inboxId, String(afterMs))
  multi.xadd(k.events, '*', ...eventFields('inbox.updated', accountId, newUid(), ts, { id: inboxId, accountId, autoResolveAfterMs: afterMs }))
  await multi.exec()
}
