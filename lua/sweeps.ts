// Operations over many conversations or agents of a partition, as a plain read of the candidates
// followed by one script per candidate that declares every key it touches (lua/scripts.ts
// NEEDS_KEYS): a script that derived the keys of many conversations inside Lua would touch keys
// Redis Cluster did not check before running it, and while their slot migrates it would be aborted
// half-way or read a moved key as empty. Each returns what the one-script version used to.
import type { PartitionKeys } from './keys.js'
import {
  autoAssignCall, autoResolveCall, presenceSweepCall, wakeSnoozedCall, type AutoAssignInput, type Scripts,
} from './scripts.js'

/** Round robin for one conversation, the inbox's members read first (each one's hash and load declared). */
export async function autoAssign(scripts: Scripts, k: PartitionKeys, a: AutoAssignInput, members?: string[]): Promise<unknown[]> {
  const agents = members ?? (await scripts.redis.smembers(k.inboxAgents(a.inboxId)))
  return scripts.run(autoAssignCall(k, a, { agents }))
}

export type DrainQueueInput = { inboxId: string; accountId: string; now: number; graceMs: number; uid: string; hotTail: number; limit: number }

/** Assigns an inbox's waiting conversations, oldest first, while someone qualifies: [1, assigned, remaining]. */
export async function drainQueue(scripts: Scripts, k: PartitionKeys, a: DrainQueueInput): Promise<[number, number, number]> {
  const { limit, ...rest } = a
  const queue = k.inboxQueue(a.inboxId)
  const [ids, agents] = await Promise.all([scripts.redis.zrange(queue, '0', String(limit - 1)), scripts.redis.smembers(k.inboxAgents(a.inboxId))])
  let assigned = 0
  for (const [n, id] of ids.entries()) {
    const r = await autoAssign(scripts, k, { ...rest, conversationId: id, uid: `${a.uid}:${n + 1}` }, agents)
    if (r[0] === 1) assigned++
    if (r[0] === 3) break // nobody qualifies now
  }
  return [1, assigned, await scripts.redis.zcard(queue)]
}

export type BatchInput = { now: number; uid: string; hotTail: number; limit: number }

/**
 * One batch of a partition sweep: `done` the entries it claimed or changed, `read` the candidates it
 * read. Fewer read than `limit` means none was left; `done` alone cannot say so (another node
 * racing over the same candidates takes some of them).
 */
export type BatchPass = { done: number; read: number }

/** A conversation a snooze wake-up reopened. */
export type WokenConversation = { id: string; accountId: string; inboxId: string; assigneeId: string | null }

/** Claims the partition's due snooze entries (`done`) and reopens their conversations (`woken`). */
export async function wakeSnoozed(scripts: Scripts, k: PartitionKeys, a: BatchInput): Promise<BatchPass & { woken: WokenConversation[] }> {
  const due = await scripts.redis.zrangebyscore(k.snoozed, '-inf', a.now, 'LIMIT', 0, a.limit)
  let claimed = 0
  const woken: WokenConversation[] = []
  for (const id of due) {
    const r = await scripts.run(wakeSnoozedCall(k, { conversationId: id, inboxId: null, now: a.now, uid: `${a.uid}:${id}`, hotTail: a.hotTail }))
    claimed += Number(r[1])
    if (r[2] === 1) woken.push(...(JSON.parse(String(r[3])) as WokenConversation[]))
  }
  return { done: claimed, read: due.length, woken }
}

/** Resolves the idle open conversations of the partition's auto-resolving inboxes (`done`). */
export async function autoResolve(scripts: Scripts, k: PartitionKeys, a: BatchInput): Promise<BatchPass> {
  const settings = await scripts.redis.hgetall(k.autoResolve)
  let resolved = 0
  let read = 0
  for (const [inboxId, raw] of Object.entries(settings)) {
    const after = Number(raw)
    if (!(after > 0) || read >= a.limit) continue
    const ids = await scripts.redis.zrangebyscore(k.inboxStatusList(inboxId, 'open'), '-inf', a.now - after, 'LIMIT', 0, a.limit - read)
    read += ids.length
    for (const id of ids) {
      const r = await scripts.run(autoResolveCall(k, { conversationId: id, inboxId, after, now: a.now, uid: `${a.uid}:${id}`, hotTail: a.hotTail }))
      resolved += Number(r[1])
    }
  }
  return { done: resolved, read }
}

/** Takes the partition's agents past the grace window offline: [1, wentOffline, "<accountId>|<agentId>"...]. */
export async function presenceSweep(scripts: Scripts, k: PartitionKeys, a: { now: number; graceMs: number; limit: number }): Promise<unknown[]> {
  const stale = await scripts.redis.zrangebyscore(k.onlineIndex, '-inf', a.now - a.graceMs, 'LIMIT', 0, a.limit)
  const out: unknown[] = [1, 0]
  for (const member of stale) {
    const sep = member.indexOf('|')
    const [accountId, agentId] = [member.slice(0, sep), member.slice(sep + 1)]
    const r = await scripts.run(presenceSweepCall(k, { accountId, agentId, now: a.now, graceMs: a.graceMs }))
    if (r[1] === 1) out.push(member)
  }
  out[1] = out.length - 2
  return out
}
