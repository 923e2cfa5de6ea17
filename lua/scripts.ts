// The Lua scripts as typed functions. Each *.lua is loaded once (the shared _lib.lua prepended),
// registered with ioredis defineCommand (EVALSHA, with EVAL on NOSCRIPT) and called through one
// typed wrapper. The keys/args builders are pure, so tests check them without Redis.
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { isCluster, type RedisClient as Redis } from './client.js'
import { Packr } from 'msgpackr'
import { NOTICE_LOG_MS } from './codec.js'
import { hashTagOf, type PartitionKeys } from './keys.js'

const packr = new Packr({ useRecords: false })

/** lua/ at the project root (this file runs as dist/lua/scripts.js). */
export const LUA_DIR = fileURLToPath(new URL('../../lua/', import.meta.url))

export type ScriptCall = {
  readonly name: string; readonly keys: string[]; readonly args: (string | Buffer)[]
  /** scripts that declare the derived keys they touch from a guess: see run() */
  readonly declare?: Declare
}

/**
 * What a script needs to know to declare the keys it derives from data (the last state a reply or a
 * NEEDS_KEYS answer gave, kept per KEYS[1]): a conversation's inbox, status, assignee and contact;
 * `pointed` the conversation a contact pointer names (createConversation: with its `status`); `edits`
 * the conversation has an edits hash; `agents` the members of its inbox (round robin reads each one's
 * hash and load); `accountInboxes` the account's inboxes (a contact's pointer in each).
 */
export type DeclaredHint = {
  inboxId?: string; status?: string; assigneeId?: string; contactId?: string; pointed?: string; edits?: boolean
  agents?: string[]; accountInboxes?: string[]
}
/** `given`: what the caller just read (it wins over a remembered hint) */
type Declare = { rebuild(hint: DeclaredHint): ScriptCall; hintOf(reply: unknown[]): DeclaredHint | null; given?: DeclaredHint | null }

/** A script's answer when the derived keys it was given are not the ones it needs (nothing written). */
export const NEEDS_KEYS = -9

/** `variableKeys`: a file named `camelName-N+.lua` takes N keys and more (a declared list at the end). */
type Source = { name: string; numberOfKeys: number; variableKeys: boolean; lua: string }

/** `publish`: the fan-out command the scripts use (lua/client.ts publishCommand). */
export function loadScriptSources(dir = LUA_DIR, publish: 'PUBLISH' | 'SPUBLISH' = 'PUBLISH'): Source[] {
  const lib = `local PUBLISH = '${publish}'\nlocal NOTICE_LOG_MS = ${NOTICE_LOG_MS}\n${readFileSync(`${dir}_lib.lua`, 'utf8')}`
  return readdirSync(dir)
    .filter((f) => /^[a-z][A-Za-z]*-\d+\+?\.lua$/.test(f))
    .map((file) => {
      const m = /^([a-zA-Z]+)-(\d+)(\+?)\.lua$/.exec(file)
      return { name: m?.[1] ?? '', numberOfKeys: Number(m?.[2]), variableKeys: m?.[3] === '+', lua: `${lib}\n${readFileSync(`${dir}${file}`, 'utf8')}` }
    })
}

/** Registers every script on a client; a script with a variable key count takes the count first. */
export function defineScripts(redis: Redis, dir = LUA_DIR): ReadonlyMap<string, number> {
  const counts = new Map<string, number>()
  for (const s of loadScriptSources(dir, isCluster(redis) ? 'SPUBLISH' : 'PUBLISH')) {
    redis.defineCommand(s.name, s.variableKeys ? { lua: s.lua } : { numberOfKeys: s.numberOfKeys, lua: s.lua })
    counts.set(s.name, s.variableKeys ? -s.numberOfKeys : s.numberOfKeys)
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
/** `hint`: what the contact's pointer named last (`pointed`, that conversation's `status`). */
export function createConversationCall(k: PartitionKeys, a: CreateConversationInput, hint: DeclaredHint | null = null): ScriptCall {
  const pointer = k.contactConversation(a.contactId, a.inboxId)
  const pointed = hint?.pointed !== undefined && hint.pointed !== '' ? hint.pointed : null
  const current = pointed !== null && ['open', 'pending', 'snoozed'].includes(hint?.status ?? '')
  return {
    name: 'createConversation',
    keys: [pointer, k.accountDisplaySeq(a.accountId), k.events, k.notices,
      current ? pointer : k.conversation(a.id), current ? pointer : k.inboxStatusList(a.inboxId, 'open'),
      pointed !== null ? k.conversation(pointed) : pointer],
    args: [pack(a)],
    declare: {
      rebuild: (h) => createConversationCall(k, a, h),
      hintOf: (reply) => {
        const c = hintOfConversation(reply[1])
        return c === null ? null : { pointed: String(JSON.parse(String(reply[1]))['id']), status: c.status ?? '' }
      },
    },
  }
}

export type AppendMessageInput = {
  conversationId: string; inboxId: string | null; accountId: string; senderType: 'contact' | 'agent'; senderId: string
  inboxes: string[] | null; content: string; contentType: string; contentAttributes: string; private: boolean
  echoId: string | null; sourceId: string | null; now: number; uid: string; reopenUid: string; floodLimit: number
  hotTail: number; dedupeTtlMs: number; sourceTtlMs: number
  /** the reply's conversation may be the brief (inboxId, status, assigneeId, contactId, times: what a
   * message changes) instead of the whole view, which the caller then does not need */
  brief?: boolean
}
/** `packed`: the input already encoded by the first build (a rebuild from a hint changes only keys). */
export function appendMessageCall(k: PartitionKeys, a: AppendMessageInput, given: DeclaredHint | null = null, packed: Buffer | null = null): ScriptCall {
  const { conversationId, inboxId } = a
  // no state known yet: a conversation of a known inbox is most likely open and unassigned
  const hint = given?.status !== undefined ? given : inboxId !== null ? { inboxId, status: 'open', assigneeId: '' } : null
  const args = packed ?? packAppendInput(a)
  const conv = k.conversation(conversationId)
  const contact = a.senderType === 'contact'
  // the derived keys it will write, from the last known state (KEYS[1] where none or unknown)
  const reopens = hint !== null && contact && (hint.status === 'resolved' || hint.status === 'snoozed')
  return {
    name: 'appendMessage',
    // optional keys the call will not use are KEYS[1] again: see the script's header (TRYAGAIN)
    keys: [
      conv, k.conversationLog(conversationId), k.events,
      a.echoId !== null ? k.conversationEchoes(conversationId) : conv,
      a.sourceId !== null && inboxId !== null ? k.sourceDedupe(inboxId, a.sourceId) : conv,
      contact ? k.conversationFlood(conversationId) : conv,
      k.notices,
      ...movedKeys(k, conversationId, hint, reopens ? 'open' : null),
      reopens && hint.status === 'snoozed' ? k.snoozed : conv,
    ],
    args: [args],
    declare: conversationDeclare((h) => appendMessageCall(k, a, h, args), 2),
  }
}

/** The script's argument table: the input without conversationId and inboxId (they are in KEYS). */
function packAppendInput(a: AppendMessageInput): Buffer {
  const { conversationId: _c, inboxId: _i, ...rest } = a
  return packDefined(rest)
}

/**
 * The keys of a conversation that set_list (lua/_lib.lua moved_keys) touches moving it to status `to`
 * (null: it keeps its status), from a hint: its status list, the new one, its assignee's load; the
 * conversation key in place of each one it does not need or the hint does not know.
 */
export function movedKeys(k: PartitionKeys, conversationId: string, hint: DeclaredHint | null, to: string | null): string[] {
  const conv = k.conversation(conversationId)
  if (hint?.inboxId === undefined || hint.status === undefined) return [conv, conv, conv]
  return [
    k.inboxStatusList(hint.inboxId, hint.status),
    to !== null && to !== hint.status ? k.inboxStatusList(hint.inboxId, to) : conv,
    hint.assigneeId !== undefined && hint.assigneeId !== '' ? k.agentOpen(hint.assigneeId) : conv,
  ]
}

/** A conversation script's declare: rebuilt from a hint, which its reply's conversation JSON (element `at`) renews. */
function conversationDeclare(rebuild: (h: DeclaredHint) => ScriptCall, at: number, given: DeclaredHint | null = null): Declare {
  return { rebuild, hintOf: (reply) => hintOfConversation(reply[at]), given }
}

/** The hint from a conversation JSON a script answered with. */
function hintOfConversation(raw: unknown): DeclaredHint | null {
  if (typeof raw !== 'string' || !raw.startsWith('{')) return null
  const c = JSON.parse(raw) as { inboxId?: unknown; status?: unknown; assigneeId?: unknown; contactId?: unknown }
  if (typeof c.inboxId !== 'string' || typeof c.status !== 'string') return null
  return {
    inboxId: c.inboxId, status: c.status, assigneeId: typeof c.assigneeId === 'string' ? c.assigneeId : '',
    contactId: typeof c.contactId === 'string' ? c.contactId : '',
  }
}

// ---- calling --------------------------------------------------------------------------------

/**
 * The error Redis answers, before running anything, while the slot of a call is being migrated
 * and one of its declared keys has moved or does not exist: TRYAGAIN (also as the last error of
 * ioredis giving up on its own ~1.6 s of redirections, which may end on the ASK that sent it to the
 * importing node, or on a MOVED while the slot is being assigned: a redirection is never a run). CLUSTERDOWN (a master lost, no replica
 * promoted yet: seconds) is not waited out here: ioredis retries it ~1.6 s, then the op answers
 * `unavailable` with retryAfterMs and the client comes back.
 */
export function isSettling(err: unknown): boolean {
  const m = err instanceof Error ? err.message : String(err)
  return /^TRYAGAIN\b/.test(m) || /Too many Cluster redirections.*\b(TRYAGAIN|ASK|MOVED)\b/s.test(m)
}

export type SettleRetry = { boundMs: number; firstDelayMs: number; maxDelayMs: number }

/** Moving a slot of a few thousand keys takes 0.3–2.4 s: writes to it wait up to 10 s. */
export const SETTLE_RETRY: SettleRetry = { boundMs: 10_000, firstDelayMs: 25, maxDelayMs: 500 }

/**
 * Runs `attempt` again, with backoff, while it fails with a settling error (never ran, so a repeat
 * is safe) and the bound allows; the last error is thrown after it (the engine answers it as
 * `unavailable` with retryAfterMs).
 */
export async function untilSettled<T>(attempt: () => Promise<T>, retry: SettleRetry = SETTLE_RETRY): Promise<T> {
  const deadline = Date.now() + retry.boundMs
  for (let delay = retry.firstDelayMs; ; delay = Math.min(delay * 2, retry.maxDelayMs)) {
    try {
      return await attempt()
    } catch (err) {
      if (!isSettling(err) || Date.now() + delay > deadline) throw err
      await new Promise((r) => setTimeout(r, delay))
    }
  }
}

export type Observe = (script: string, seconds: number) => void

/**
 * Acknowledged means replicated (REDIS_WAIT_REPLICAS): every script call is followed, on the
 * connection that ran it, by `WAIT replicas timeoutMs` (WAIT is refused inside scripts). Fewer
 * replicas than asked within the timeout: NotReplicatedError (the write is kept on the master; the
 * op answers `unavailable` and a retry with the same echoId dedupes).
 */
export type Durability = { readonly replicas: number; readonly timeoutMs: number }

export class NotReplicatedError extends Error {
  override name = 'NotReplicatedError'
  readonly acked: number
  constructor(script: string, acked: number, wanted: number, timeoutMs: number) {
    super(`NOTREPLICATED ${script}: ${acked} of ${wanted} replicas acknowledged within ${timeoutMs} ms`)
    this.acked = acked
  }
}

export type ScriptOptions = { observe?: Observe; retry?: SettleRetry; durability?: Durability }

type ScriptFn = (...a: (string | number | Buffer)[]) => Promise<unknown>

/**
 * One call and its WAIT on the same connection: one pipeline (one node, one round trip). A cluster
 * answers MOVED or ASK (a slot moved or moving: the script did not run) with the node to ask: the
 * call then goes through ioredis's own redirection and the WAIT to that node's connection.
 */
async function callAndWait(redis: Redis, name: string, argv: (string | number | Buffer)[], d: Durability): Promise<unknown> {
  const pipeline = redis.pipeline() as unknown as Record<string, ScriptFn> & { call(...a: (string | number)[]): unknown; exec(): Promise<[Error | null, unknown][] | null> }
  ;(pipeline[name] as ScriptFn)(...argv)
  pipeline.call('WAIT', d.replicas, d.timeoutMs)
  const res = await pipeline.exec()
  const [scriptErr, reply] = res?.[0] ?? [new Error('empty pipeline reply'), null]
  let acked: unknown = res?.[1]?.[1]
  if (scriptErr !== null) {
    const redirect = /^(?:MOVED|ASK) \d+ (\S+):(\d+)$/.exec(scriptErr.message)
    if (redirect === null || !isCluster(redis)) throw scriptErr
    const plain = (redis as unknown as Record<string, ScriptFn>)[name] as ScriptFn
    const replyAfter = await plain.call(redis, ...argv)
    const node = redis.nodes('master').find((n) => n.options.host === redirect[1] && n.options.port === Number(redirect[2]))
    acked = node === undefined ? 0 : await node.call('WAIT', d.replicas, d.timeoutMs)
    if (Number(acked) < d.replicas) throw new NotReplicatedError(name, Number(acked), d.replicas, d.timeoutMs)
    return replyAfter
  }
  if (Number(acked) < d.replicas) throw new NotReplicatedError(name, Number(acked), d.replicas, d.timeoutMs)
  return reply
}

/** Conversations whose declared-keys hint is remembered (most recent first out when full). */
const HINTS_KEPT = 50_000

export function createScripts(redis: Redis, opts: ScriptOptions = {}) {
  const { observe = () => {}, retry = SETTLE_RETRY, durability = { replicas: 0, timeoutMs: 0 } } = opts
  const counts = defineScripts(redis)
  /** KEYS[1] of a declaring call -> the hint its last reply gave */
  const hints = new Map<string, DeclaredHint>()
  const remember = (key: string, hint: DeclaredHint) => {
    hints.delete(key)
    hints.set(key, hint)
    if (hints.size > HINTS_KEPT) for (const oldest of hints.keys()) { hints.delete(oldest); break }
  }

  /**
   * Runs a call. A declaring call starts from the hint its conversation's last reply left; when the
   * script answers NEEDS_KEYS it is rebuilt from the hint in that answer and run again (it wrote
   * nothing), so a guess costs one round trip more only when the conversation changed elsewhere.
   */
  async function run(first: ScriptCall): Promise<unknown[]> {
    const declare = first.declare
    if (declare === undefined) return runOnce(first)
    const key = first.keys[0] ?? ''
    const known = hints.get(key)
    let call = known === undefined ? first : declare.rebuild({ ...known, ...declare.given })
    for (let round = 0; ; round++) {
      const reply = await runOnce(call)
      if (reply[0] === NEEDS_KEYS && round < 3 && typeof reply[1] === 'string') {
        const hint = { ...hints.get(key), ...(JSON.parse(reply[1]) as DeclaredHint) }
        remember(key, hint)
        call = declare.rebuild(hint)
        continue
      }
      const hint = declare.hintOf(reply)
      if (hint !== null) remember(key, { ...hints.get(key), ...hint })
      return reply
    }
  }

  async function runOnce(call: ScriptCall): Promise<unknown[]> {
    const expected = counts.get(call.name) ?? 0 // negative: at least that many (variable key count)
    if (expected < 0 ? call.keys.length < -expected : expected !== call.keys.length) throw new Error(`script ${call.name} takes ${Math.abs(expected)} keys, got ${call.keys.length}`)
    const fn = (redis as unknown as Record<string, (...a: (string | number | Buffer)[]) => Promise<unknown>>)[call.name]
    if (fn === undefined) throw new Error(`script ${call.name} is not loaded`)
    const start = process.hrtime.bigint()
    // a variable key count (`name-N+.lua`) passes the count first
    const argv = [...(expected < 0 ? [call.keys.length, ...call.keys] : call.keys), ...call.args]
    const reply = await untilSettled(() => durability.replicas > 0 ? callAndWait(redis, call.name, argv, durability) : fn.call(redis, ...argv), retry)
    observe(call.name, Number(process.hrtime.bigint() - start) / 1e9)
    if (!Array.isArray(reply) || typeof reply[0] !== 'number') throw new Error(`script ${call.name} replied with an unexpected shape`)
    return reply
  }

  return { run, counts, redis }
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
export function setConversationStatusCall(k: PartitionKeys, a: SetConversationStatusInput, hint: DeclaredHint | null = null): ScriptCall {
  const { conversationId, ...rest } = a
  const snoozedUntilIso = a.snoozedUntil === null ? null : new Date(a.snoozedUntil).toISOString()
  const conv = k.conversation(conversationId)
  // leaving 'resolved': the contact's pointer, and the conversation it names when it is another one
  const pointer = hint?.status === 'resolved' && hint.contactId !== undefined && hint.inboxId !== undefined
    ? k.contactConversation(hint.contactId, hint.inboxId) : conv
  const pointed = pointer !== conv && hint?.pointed !== undefined && hint.pointed !== conversationId ? k.conversation(hint.pointed) : conv
  return {
    name: 'setConversationStatus',
    keys: [conv, k.conversationLog(conversationId), k.events, a.status === 'snoozed' || hint?.status === 'snoozed' ? k.snoozed : conv,
      k.notices, ...movedKeys(k, conversationId, hint, a.status),
      pointer, pointed],
    args: [packDefined({ ...rest, snoozedUntilIso })],
    declare: conversationDeclare((h) => setConversationStatusCall(k, a, h), 1),
  }
}

/** One due snooze entry (lua/sweeps.ts reads them); the hint, when unknown, guesses it snoozed and unassigned. */
export type WakeSnoozedInput = { conversationId: string; inboxId: string | null; now: number; uid: string; hotTail: number }
export function wakeSnoozedCall(k: PartitionKeys, a: WakeSnoozedInput, given: DeclaredHint | null = null): ScriptCall {
  const { conversationId: id, inboxId, ...rest } = a
  const hint = given?.status !== undefined ? given : inboxId !== null ? { inboxId, status: 'snoozed', assigneeId: '' } : null
  return {
    name: 'wakeSnoozed',
    keys: [k.conversation(id), k.conversationLog(id), k.snoozed, k.events, k.notices, ...movedKeys(k, id, hint, 'open')],
    args: [pack(rest)],
    declare: conversationDeclare((h) => wakeSnoozedCall(k, a, h), 4),
  }
}

export type MarkSeenInput = {
  conversationId: string; accountId: string; role: 'agent' | 'contact'; viewerId: string
  /** the contact's inbox (contacts), null for agents */
  inboxId: string | null
  /** agents: allowed inbox ids, null = all */
  inboxes: string[] | null
  now: number; uid: string; throttleMs: number; cap: number; slackMs: number
}
export function markSeenCall(k: PartitionKeys, a: MarkSeenInput, hint: DeclaredHint | null = null): ScriptCall {
  const { conversationId, ...rest } = a
  const conv = k.conversation(conversationId)
  return {
    name: 'markSeen',
    keys: [conv, k.conversationLog(conversationId), k.events, k.seenThrottle(conversationId, `${a.role}:${a.viewerId}`), k.notices,
      hint?.edits === true ? k.conversationEdits(conversationId) : conv],
    args: [packDefined(rest)],
    declare: conversationDeclare((h) => markSeenCall(k, a, h), 1),
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
/** `hint.agents`: the inbox members as last known (lua/sweeps.ts reads them), each one's hash and load declared. */
export function autoAssignCall(k: PartitionKeys, a: AutoAssignInput, hint: DeclaredHint | null = null): ScriptCall {
  return {
    name: 'autoAssign',
    keys: [k.conversation(a.conversationId), k.conversationLog(a.conversationId), k.inboxRotation(a.inboxId), k.inboxAgents(a.inboxId),
      k.presence(a.accountId), k.availability(a.accountId), k.inboxQueue(a.inboxId), k.events, k.notices, k.queues,
      ...(hint?.agents ?? []).flatMap((id) => [k.agent(id), k.agentOpen(id)])],
    args: [pack({ accountId: a.accountId, inboxId: a.inboxId, now: a.now, graceMs: a.graceMs, uid: a.uid, hotTail: a.hotTail })],
    declare: conversationDeclare((h) => autoAssignCall(k, a, h), 1, hint),
  }
}

export type AssignConversationInput = {
  conversationId: string; inboxId: string; accountId: string; inboxes: string[] | null; actorId: string; actorName: string
  assigneeId: string; expectedAssigneeId: string | null; now: number; uid: string; hotTail: number
}
export function assignConversationCall(k: PartitionKeys, a: AssignConversationInput, hint: DeclaredHint | null = null): ScriptCall {
  const { conversationId, inboxId, ...rest } = a
  const conv = k.conversation(conversationId)
  const to = a.assigneeId
  const open = to !== '' && hint?.status === 'open'
  return {
    name: 'assignConversation',
    keys: [conv, k.conversationLog(conversationId), k.inboxAgents(inboxId), open && hint.assigneeId === '' ? k.inboxQueue(inboxId) : conv,
      k.events, k.notices,
      to !== '' && to !== a.actorId ? k.agent(to) : conv,
      hint?.assigneeId !== undefined && hint.assigneeId !== '' ? k.agentOpen(hint.assigneeId) : conv,
      open ? k.agentOpen(to) : conv],
    args: [packDefined(rest)],
    declare: conversationDeclare((h) => assignConversationCall(k, a, h), 1),
  }
}

export type PresenceBeatInput = { accountId: string; agentId: string; connIds: string[]; now: number; graceMs: number }
export function presenceBeatCall(k: PartitionKeys, a: PresenceBeatInput): ScriptCall {
  return {
    name: 'presenceBeat',
    keys: [k.presence(a.accountId), k.agentConnections(a.accountId), k.onlineIndex, k.notices, k.availability(a.accountId)],
    args: [pack(a)],
  }
}

/** One agent of the online index past the grace window (lua/sweeps.ts reads them). */
export type PresenceSweepInput = { accountId: string; agentId: string; now: number; graceMs: number }
export function presenceSweepCall(k: PartitionKeys, a: PresenceSweepInput): ScriptCall {
  return {
    name: 'presenceSweep',
    keys: [k.onlineIndex, k.presence(a.accountId), k.agentConnections(a.accountId), k.availability(a.accountId), k.notices],
    args: [pack(a)],
  }
}

export type SetAvailabilityInput = { accountId: string; agentId: string; availability: 'online' | 'busy' | 'offline'; now: number; graceMs: number; uid: string }
export function setAvailabilityCall(k: PartitionKeys, a: SetAvailabilityInput): ScriptCall {
  return {
    name: 'setAvailability',
    keys: [k.availability(a.accountId), k.presence(a.accountId), k.agent(a.agentId), k.events, k.notices],
    args: [pack(a)],
  }
}

/** One idle conversation of an inbox's open list (lua/sweeps.ts reads them); `after` the inbox's window. */
export type AutoResolveInput = { conversationId: string; inboxId: string; after: number; now: number; uid: string; hotTail: number }
export function autoResolveCall(k: PartitionKeys, a: AutoResolveInput, given: DeclaredHint | null = null): ScriptCall {
  const { conversationId: id, inboxId, ...rest } = a
  const hint = given?.status !== undefined ? given : { inboxId, status: 'open', assigneeId: '' }
  return {
    name: 'autoResolve',
    keys: [k.conversation(id), k.conversationLog(id), k.events, k.notices, k.inboxStatusList(inboxId, 'open'),
      ...movedKeys(k, id, hint, 'resolved')],
    args: [pack(rest)],
    declare: conversationDeclare((h) => autoResolveCall(k, a, h), 2),
  }
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
  const inboxId = a.expected['inboxId'] ?? ''
  return {
    name: 'evictConversation',
    keys: [k.conversation(id), k.conversationLog(id), k.conversationEchoes(id), k.conversationFlood(id), k.snoozed, k.events,
      k.inboxStatusList(inboxId, 'resolved'), k.contactConversation(a.expected['contactId'] ?? '', inboxId), k.conversationEdits(id)],
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
/** `hint.accountInboxes`: the account's inboxes as last known, the contact's pointer in each declared. */
export function evictContactCall(k: PartitionKeys, a: EvictContactInput, hint: DeclaredHint | null = null): ScriptCall {
  return {
    name: 'evictContact',
    keys: [k.contact(a.contactId), k.contactsTouched, k.accountIdentifiers(a.accountId), k.accountInboxes(a.accountId), k.events,
      ...(hint?.accountInboxes ?? []).map((inboxId) => k.contactConversation(a.contactId, inboxId))],
    args: [pack({ id: a.contactId, cutoff: a.cutoff, expected: a.expected, now: a.now, uid: a.uid })],
    declare: { rebuild: (h) => evictContactCall(k, a, h), hintOf: () => null, given: hint },
  }
}

export type RehydrateContactInput = {
  contactId: string; accountId: string
  /** the contact hash, field -> value */
  fields: Record<string, string>
  identifier: string | null
  now: number
}
export type CreateContactInput = {
  contactId: string; accountId: string; uid: string; now: number
  /** the contact hash, field -> value */
  fields: Record<string, string>
  /** the contact.created event's data */
  event: Record<string, unknown>
}
export function createContactCall(k: PartitionKeys, a: CreateContactInput): ScriptCall {
  return {
    name: 'createContact',
    keys: [k.contact(a.contactId), k.contactsTouched, k.events],
    args: [pack({ id: a.contactId, accountId: a.accountId, uid: a.uid, now: a.now, fields: Object.entries(a.fields).flat(), event: JSON.stringify(a.event) })],
  }
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

// ---- builders: message edit and delete ------------------------------------------------------

export type UpdateMessageInput = {
  conversationId: string; accountId: string; agentId: string; admin: boolean; inboxes: string[] | null
  messageId: string; action: 'edit' | 'delete'; content: string | null; windowMs: number; now: number; uid: string
  hotTail: number
  /** the message JSON as PostgreSQL has it, when it has left the hot tail (a { 3 } reply asked for it) */
  archived: string | null
}
export function updateMessageCall(k: PartitionKeys, a: UpdateMessageInput): ScriptCall {
  const { conversationId, ...rest } = a
  return {
    name: 'updateMessage',
    keys: [k.conversation(conversationId), k.conversationLog(conversationId), k.conversationEdits(conversationId), k.events, k.notices],
    args: [packDefined(rest)],
  }
}
