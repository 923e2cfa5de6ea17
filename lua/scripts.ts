// The Lua scripts as typed functions. Each *.lua is loaded once (the shared _lib.lua prepended),
// registered with ioredis defineCommand (EVALSHA, with EVAL on NOSCRIPT) and called through one
// typed wrapper. The keys/args builders are pure, so tests check them without Redis.
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Redis } from 'ioredis'
import { Packr } from 'msgpackr'
import { NOTICE_LOG_MS } from './codec.js'
import { hashTagOf, type PartitionKeys } from './keys.js'

const packr = new Packr({ useRecords: false })

/** lua/ at the project root (this file runs as dist/lua/scripts.js). */
export const LUA_DIR = fileURLToPath(new URL('../../lua/', import.meta.url))

export type ScriptCall = { readonly name: string; readonly keys: string[]; readonly args: (string | Buffer)[] }

type Source = { name: string; numberOfKeys: number; lua: string }

export function loadScriptSources(dir = LUA_DIR): Source[] {
  const lib = `local NOTICE_LOG_MS = ${NOTICE_LOG_MS}\n${readFileSync(`${dir}_lib.lua`, 'utf8')}`
  return readdirSync(dir)
    .filter((f) => /^[a-z][A-Za-z]*-\d+\.lua$/.test(f))
    .map((file) => {
      const m = /^([a-zA-Z]+)-(\d+)\.lua$/.exec(file)
      return { name: m?.[1] ?? '', numberOfKeys: Number(m?.[2]), lua: `${lib}\n${readFileSync(`${dir}${file}`, 'utf8')}` }
    })
}

/** Registers every script on a client. */
export function defineScripts(redis: Redis, dir = LUA_DIR): ReadonlyMap<string, number> {
  const counts = new Map<string, number>()
  for (const s of loadScriptSources(dir)) {
    redis.defineCommand(s.name, { numberOfKeys: s.numberOfKeys, lua: s.lua })
    counts.set(s.name, s.numberOfKeys)
  }
  return counts
}

function pack(value: unknown): Buffer {
  return packr.pack(value)
}

/** Every key of one call must share one hash tag (one Redis Cluster slot). */
export function sameSlot(keys: readonly string[]): boolean {
  const tags = new Set(keys.map(hashTagOf))
  return tags.size === 1 && !tags.has(null)
}

// ---- builders -------------------------------------------------------------------------------

export type CreateConversationInput = {
  id: string; accountId: string; inboxId: string; contactId: string; now: number; uid: string; additionalAttributes: string
}
export function createConversationCall(k: PartitionKeys, a: CreateConversationInput): ScriptCall {
  return {
    name: 'createConversation',
    keys: [k.accountDisplaySeq(a.accountId), k.contactConversation(a.contactId, a.inboxId), k.events, k.notices],
    args: [pack(a)],
  }
}

export type AppendMessageInput = {
  conversationId: string; inboxId: string | null; accountId: string; senderType: 'contact' | 'agent'; senderId: string
  inboxes: string[] | null; content: string; contentType: string; contentAttributes: string; private: boolean
  echoId: string | null; sourceId: string | null; now: number; uid: string; reopenUid: string; floodLimit: number
  hotTail: number; dedupeTtlMs: number; sourceTtlMs: number
}
export function appendMessageCall(k: PartitionKeys, a: AppendMessageInput): ScriptCall {
  const { conversationId, inboxId, ...rest } = a
  const argv: Record<string, unknown> = {}
  for (const [f, v] of Object.entries(rest)) if (v !== null) argv[f] = v
  return {
    name: 'appendMessage',
    keys: [
      k.conversation(conversationId), k.conversationLog(conversationId), k.events, k.conversationEchoes(conversationId),
      a.sourceId !== null && inboxId !== null ? k.sourceDedupe(inboxId, a.sourceId) : k.sourceDedupe('-', '-'),
      k.conversationFlood(conversationId), k.snoozed, k.notices,
    ],
    args: [pack(argv)],
  }
}

// ---- calling --------------------------------------------------------------------------------

export type Observe = (script: string, seconds: number) => void

export function createScripts(redis: Redis, observe: Observe = () => {}) {
  const counts = defineScripts(redis)

  async function run(call: ScriptCall): Promise<unknown[]> {
    const expected = counts.get(call.name)
    if (expected !== call.keys.length) throw new Error(`script ${call.name} takes ${expected} keys, got ${call.keys.length}`)
    const fn = (redis as unknown as Record<string, (...a: (string | Buffer)[]) => Promise<unknown>>)[call.name]
    if (fn === undefined) throw new Error(`script ${call.name} is not loaded`)
    const start = process.hrtime.bigint()
    const reply = await fn.call(redis, ...call.keys, ...call.args)
    observe(call.name, Number(process.hrtime.bigint() - start) / 1e9)
    if (!Array.isArray(reply) || typeof reply[0] !== 'number') throw new Error(`script ${call.name} replied with an unexpected shape`)
    return reply
  }

  return { run, counts }
}

export type Scripts = ReturnType<typeof createScripts>

export function json(reply: unknown[], index: number): Record<string, unknown> {
  const raw = reply[index]
  if (typeof raw !== 'string') throw new Error(`script reply element ${index} is not JSON text`)
  return JSON.parse(raw) as Record<string, unknown>
}

// ---- builders: conversation status, snooze wake-up, seen, rating, update ---------------------

/** msgpack of an input with its null fields left out (absent in the script's table). */
function packDefined(input: Record<string, unknown>): Buffer {
  const argv: Record<string, unknown> = {}
  for (const [f, v] of Object.entries(input)) if (v !== null && v !== undefined) argv[f] = v
  return pack(argv)
}

export type ConversationStatus = 'open' | 'pending' | 'snoozed' | 'resolved'

export type SetConversationStatusInput = {
  conversationId: string; accountId: string; inboxes: string[] | null; agentId: string; agentName: string
  status: ConversationStatus; snoozedUntil: number | null; now: number; uid: string; hotTail: number
}
export function setConversationStatusCall(k: PartitionKeys, a: SetConversationStatusInput): ScriptCall {
  const { conversationId, ...rest } = a
  const snoozedUntilIso = a.snoozedUntil === null ? null : new Date(a.snoozedUntil).toISOString()
  return {
    name: 'setConversationStatus',
    keys: [k.conversation(conversationId), k.conversationLog(conversationId), k.events, k.snoozed, k.notices],
    args: [packDefined({ ...rest, snoozedUntilIso })],
  }
}

export type WakeSnoozedInput = { now: number; uid: string; hotTail: number; limit: number }
export function wakeSnoozedCall(k: PartitionKeys, a: WakeSnoozedInput): ScriptCall {
  return { name: 'wakeSnoozed', keys: [k.snoozed, k.events, k.notices], args: [pack(a)] }
}

export type MarkSeenInput = {
  conversationId: string; accountId: string; role: 'agent' | 'contact'; viewerId: string
  /** the contact's inbox (contacts), null for agents */
  inboxId: string | null
  /** agents: allowed inbox ids, null = all */
  inboxes: string[] | null
  now: number; uid: string; throttleMs: number; cap: number; slackMs: number
}
export function markSeenCall(k: PartitionKeys, a: MarkSeenInput): ScriptCall {
  const { conversationId, ...rest } = a
  return {
    name: 'markSeen',
    keys: [k.conversation(conversationId), k.conversationLog(conversationId), k.events,
      k.seenThrottle(conversationId, `${a.role}:${a.viewerId}`), k.notices],
    args: [packDefined(rest)],
  }
}

export type RateConversationInput = {
  conversationId: string; accountId: string; contactId: string; inboxId: string; score: number; comment: string | null
  now: number; uid: string
}
export function rateConversationCall(k: PartitionKeys, a: RateConversationInput): ScriptCall {
  const { conversationId, ...rest } = a
  return { name: 'rateConversation', keys: [k.conversation(conversationId), k.events, k.notices], args: [packDefined(rest)] }
}

/** undefined = keep the field, null = clear it. */
export type UpdateConversationInput = {
  conversationId: string; accountId: string; inboxes: string[] | null; now: number; uid: string
  priority?: string | null; customAttributes?: Record<string, unknown>; branch?: string | null; region?: string | null
}
export function updateConversationCall(k: PartitionKeys, a: UpdateConversationInput): ScriptCall {
  const argv: Record<string, unknown> = { accountId: a.accountId, inboxes: a.inboxes, now: a.now, uid: a.uid }
  for (const f of ['priority', 'branch', 'region'] as const) {
    const v = a[f]
    if (v !== undefined) argv[f] = v ?? ''
  }
  if (a.customAttributes !== undefined) argv['customAttributes'] = JSON.stringify(a.customAttributes)
  return { name: 'updateConversation', keys: [k.conversation(a.conversationId), k.events, k.notices], args: [packDefined(argv)] }
}

// ---- builders: presence and assignment --------------------------------------------------------

export type AutoAssignInput = { conversationId: string; inboxId: string; accountId: string; now: number; graceMs: number; uid: string; hotTail: number }
export function autoAssignCall(k: PartitionKeys, a: AutoAssignInput): ScriptCall {
  return {
    name: 'autoAssign',
    keys: [k.conversation(a.conversationId), k.conversationLog(a.conversationId), k.inboxRotation(a.inboxId), k.inboxAgents(a.inboxId),
      k.presence(a.accountId), k.availability(a.accountId), k.inboxQueue(a.inboxId), k.events, k.notices],
    args: [pack({ accountId: a.accountId, now: a.now, graceMs: a.graceMs, uid: a.uid, hotTail: a.hotTail })],
  }
}

export type DrainQueueInput = { inboxId: string; accountId: string; now: number; graceMs: number; uid: string; hotTail: number; limit: number }
export function drainQueueCall(k: PartitionKeys, a: DrainQueueInput): ScriptCall {
  return {
    name: 'drainQueue',
    keys: [k.inboxQueue(a.inboxId), k.inboxRotation(a.inboxId), k.inboxAgents(a.inboxId), k.presence(a.accountId),
      k.availability(a.accountId), k.events, k.notices],
    args: [pack(a)],
  }
}

export type AssignConversationInput = {
  conversationId: string; inboxId: string; accountId: string; inboxes: string[] | null; actorId: string; actorName: string
  assigneeId: string; expectedAssigneeId: string | null; now: number; uid: string; hotTail: number
}
export function assignConversationCall(k: PartitionKeys, a: AssignConversationInput): ScriptCall {
  const { conversationId, inboxId, ...rest } = a
  return {
    name: 'assignConversation',
    keys: [k.conversation(conversationId), k.conversationLog(conversationId), k.inboxAgents(inboxId), k.inboxQueue(inboxId), k.events, k.notices],
    args: [packDefined(rest)],
  }
}

export type PresenceBeatInput = { accountId: string; agentId: string; connIds: string[]; now: number; graceMs: number }
export function presenceBeatCall(k: PartitionKeys, a: PresenceBeatInput): ScriptCall {
  return { name: 'presenceBeat', keys: [k.presence(a.accountId), k.agentConnections(a.accountId), k.onlineIndex, k.notices], args: [pack(a)] }
}

export function presenceSweepCall(k: PartitionKeys, a: { now: number; graceMs: number; limit: number }): ScriptCall {
  return { name: 'presenceSweep', keys: [k.onlineIndex, k.notices], args: [pack(a)] }
}

export type SetAvailabilityInput = { accountId: string; agentId: string; availability: 'online' | 'busy' | 'offline'; now: number; graceMs: number; uid: string }
export function setAvailabilityCall(k: PartitionKeys, a: SetAvailabilityInput): ScriptCall {
  return {
    name: 'setAvailability',
    keys: [k.availability(a.accountId), k.presence(a.accountId), k.agent(a.agentId), k.events, k.notices],
    args: [pack(a)],
  }
}

export type AutoResolveInput = { now: number; uid: string; hotTail: number; limit: number }
export function autoResolveCall(k: PartitionKeys, a: AutoResolveInput): ScriptCall {
  return { name: 'autoResolve', keys: [k.autoResolve, k.events, k.notices], args: [pack(a)] }
}

// ---- builders: retention (eviction of archived conversations, rehydration from the archive) ----

export type EvictConversationInput = {
  conversationId: string
  /** lastActivityAt and rehydratedAt must both be below this (now - RETENTION_MS) */
  cutoff: number
  /** the hash as read and verified against PostgreSQL: any other state refuses */
  expected: Record<string, string>
  now: number; uid: string
}
export function evictConversationCall(k: PartitionKeys, a: EvictConversationInput): ScriptCall {
  const { conversationId: id, ...rest } = a
  return {
    name: 'evictConversation',
    keys: [k.conversation(id), k.conversationLog(id), k.conversationEchoes(id), k.conversationFlood(id), k.snoozed, k.events],
    args: [pack(rest)],
  }
}

export type EvictContactInput = {
  contactId: string; accountId: string
  /** the contact's last touch must be below this (now - RETENTION_MS) */
  cutoff: number
  /** the hash as read and verified against PostgreSQL: any other state refuses */
  expected: Record<string, string>
  now: number; uid: string
}
export function evictContactCall(k: PartitionKeys, a: EvictContactInput): ScriptCall {
  return {
    name: 'evictContact',
    keys: [k.contact(a.contactId), k.contactsTouched, k.accountIdentifiers(a.accountId), k.accountInboxes(a.accountId), k.events],
    args: [pack({ id: a.contactId, cutoff: a.cutoff, expected: a.expected, now: a.now, uid: a.uid })],
  }
}

export type RehydrateContactInput = {
  contactId: string; accountId: string
  /** the contact hash, field -> value */
  fields: Record<string, string>
  identifier: string | null
  now: number
}
export function rehydrateContactCall(k: PartitionKeys, a: RehydrateContactInput): ScriptCall {
  return {
    name: 'rehydrateContact',
    keys: [k.contact(a.contactId), k.contactsTouched, k.accountIdentifiers(a.accountId)],
    args: [pack({ id: a.contactId, fields: Object.entries(a.fields).flat(), identifier: a.identifier ?? '', now: a.now })],
  }
}

export type RehydrateConversationInput = {
  conversationId: string; inboxId: string; status: ConversationStatus
  /** the conversation hash, field -> value */
  fields: Record<string, string>
  /** status-list score: lastActivityAt */
  score: number
  /** the log's tail, stream ids strictly ascending; json = the entry's `m` field */
  messages: { id: string; json: string }[]
}
export function rehydrateConversationCall(k: PartitionKeys, a: RehydrateConversationInput): ScriptCall {
  return {
    name: 'rehydrateConversation',
    keys: [k.conversation(a.conversationId), k.conversationLog(a.conversationId), k.inboxStatusList(a.inboxId, a.status)],
    args: [pack({ id: a.conversationId, fields: Object.entries(a.fields).flat(), score: a.score, messages: a.messages })],
  }
}

/** A lease on `key` for `owner` (archiver/identity.ts); ttlMs 0 releases it. */
export function holdLeaseCall(key: string, a: { owner: string; ttlMs: number }): ScriptCall {
  return { name: 'holdLease', keys: [key], args: [pack(a)] }
}
