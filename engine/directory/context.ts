// What every part of the directory shares: the Redis client, the partition of an account, the
// clock, and the bearer-token index (one hash per partition: sha256(token) → kind:id).
import type { RedisClient as Redis } from '../../lua/client.js'
import { keysFor, partitionOf, type PartitionKeys } from '../../lua/keys.js'
import { createScripts, type Scripts } from '../../lua/scripts.js'
import { sha256, tokenAccount } from '../ids.js'

/** How a missing contact is looked for in the archive (engine/rehydrate.ts restoreContact). */
export type RestoreContact = (accountId: string, contactId: string) => Promise<boolean>

export type DirectoryContext = {
  readonly redis: Redis
  readonly keysOf: (accountId: string) => PartitionKeys
  readonly now: () => number
  /** the scripts (the engine's, with its durability and metrics; made here when none is given) */
  readonly scripts: Scripts
  /** brings a contact evicted from Redis back from PostgreSQL (engine/eviction.ts); absent = no archive */
  readonly restoreContact?: RestoreContact
}

export function directoryContext(deps: { redis: Redis; partitions: number; now?: () => number; scripts?: Scripts; restoreContact?: RestoreContact }): DirectoryContext {
  return {
    redis: deps.redis,
    scripts: deps.scripts ?? createScripts(deps.redis),
    keysOf: (accountId) => keysFor(partitionOf(accountId, deps.partitions)),
    now: deps.now ?? Date.now,
    ...(deps.restoreContact === undefined ? {} : { restoreContact: deps.restoreContact }),
  }
}

/** The account and owner id of a bearer token of one kind ("agent" or "api"), or null. */
export async function tokenOwner(ctx: DirectoryContext, token: string, kind: 'agent' | 'api'): Promise<{ accountId: string; id: string } | null> {
  const accountId = tokenAccount(token)
  if (accountId === null) return null
  const owner = await ctx.redis.hget(ctx.keysOf(accountId).tokens, sha256(token))
  return owner !== null && owner.startsWith(`${kind}:`) ? { accountId, id: owner.slice(kind.length + 1) } : null
}
