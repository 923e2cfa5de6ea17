// The Lua scripts as typed functions. Each *.lua is loaded once (the shared _lib.lua prepended),
// registered with ioredis defineCommand (EVALSHA, with EVAL on NOSCRIPT) and called through one
// typed wrapper. The keys/args builders are pure, so tests check them without Redis.
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Redis } from 'ioredis'
import { Packr } from 'msgpackr'
import { hashTagOf, type PartitionKeys } from './keys.js'

const packr = new Packr({ useRecords: false })

/** lua/ at the project root (this file runs as dist/lua/scripts.js). */
export const LUA_DIR = fileURLToPath(new URL('../../lua/', import.meta.url))

export type ScriptCall = { readonly name: string; readonly keys: string[]; readonly args: (string | Buffer)[] }

type Source = { name: string; numberOfKeys: number; lua: string }

export function loadScriptSources(dir = LUA_DIR): Source[] {
  const lib = readFileSync(`${dir}_lib.lua`, 'utf8')
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
    keys: [k.accountDisplaySeq(a.accountId), k.contactConversation(a.contactId, a.inboxId), k.events, k.fanout],
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
      k.conversationFlood(conversationId), k.snoozed, k.fanout,
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
