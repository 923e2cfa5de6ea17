// After every hello (first connect and each reconnect) the client's view is made exactly the
// server's before the app hears `synced`: per held conversation, messages resumed from the last
// id held before the drop (paging `history` back when `resume` says complete:false), then the
// conversation itself (status, assignee, unread count, rating, seen times), then the read status
// of held messages from the seen times. Each difference is told to the app as the protocol event
// it stands for, in order. Events that arrive meanwhile are held back by the client and merged
// afterwards (client.ts), so nothing is told twice or out of order.
import { ParleyError } from './errors.js'
import { compareIds } from './ids.js'
import type { AnyConversation, HeldStore } from './store.js'
import type { Message } from '../wire.js'

const PAGE = 200
/** history pages fetched at most per conversation to close one gap (40,000 messages) */
const MAX_PAGES = 200
const PARALLEL = 4

export type Call = (op: string, params: Record<string, unknown>) => Promise<Record<string, unknown>>

export type ResyncCtx = {
  held: HeldStore
  call: Call
  /** true while this resync is still the current one (a newer hello cancels it) */
  current: () => boolean
  role: 'agent' | 'contact'
  /** conversations already read on this socket (agents' lists): no conversation.get for them */
  fresh: Map<string, AnyConversation>
  message: (m: Message) => void
  conversation: (c: AnyConversation, isNew: boolean) => void
  removed: (conversationId: string, code: string) => void
  statusChanged: (m: Message) => void
}

export const CANCELLED = new ParleyError('disconnected', 'resync cancelled by a newer connection')

function check(ctx: ResyncCtx): void {
  if (!ctx.current()) throw CANCELLED
}

/** Messages after the stream's cursor, oldest first (the latest page when there is none yet). */
async function missing(ctx: ResyncCtx, id: string): Promise<Message[]> {
  const last = ctx.held.cursor(id)
  if (last === null) {
    const r = await ctx.call('history', { conversationId: id, limit: 50 })
    return r['messages'] as Message[]
  }
  const r = await ctx.call('resume', { conversationId: id, after: last })
  const got = [...(r['messages'] as Message[])]
  if (r['complete'] === true) return got
  // the gap is older than the hot tail: page back until we reach what we had
  let before: string | null = got[0]?.id ?? null
  for (let i = 0; i < MAX_PAGES; i++) {
    check(ctx)
    const h = await ctx.call('history', before === null ? { conversationId: id, limit: PAGE } : { conversationId: id, before, limit: PAGE })
    const page = h['messages'] as Message[]
    const newer = page.filter((m) => compareIds(m.id, last) > 0 && (got.length === 0 || compareIds(m.id, (got[0] as Message).id) < 0))
    got.unshift(...newer)
    if (newer.length < page.length || h['more'] !== true || page.length === 0) break
    before = (page[0] as Message).id
  }
  return got
}

/** `read` once the other side's last-seen time is at or after the message (as the engine decides). */
function readNow(m: Message, c: AnyConversation): boolean {
  if ((m.status !== 'sent' && m.status !== 'delivered') || m.type === 'activity') return false
  const seen = m.type === 'incoming' ? c.agentLastSeenAt : c.contactLastSeenAt
  return seen !== null && seen !== undefined && seen >= m.createdAt
}

export async function resyncConversation(ctx: ResyncCtx, id: string): Promise<void> {
  const fresh = ctx.fresh.get(id) ?? null
  try {
    if (ctx.held.followed(id)) {
      const msgs = await missing(ctx, id)
      check(ctx)
      for (const m of msgs) ctx.message(m)
    }
    const c = fresh ?? ((await ctx.call('conversation.get', { conversationId: id }))['conversation'] as AnyConversation)
    check(ctx)
    ctx.conversation(c, !ctx.held.conversation(id))
    for (const m of ctx.held.messages(id)) if (readNow(m, c)) ctx.statusChanged({ ...m, status: 'read' })
  } catch (err) {
    const code = (err as ParleyError).code
    if (code === 'not_found' || code === 'forbidden') ctx.removed(id, code)
    else throw err
  }
}

/** Runs `fn` over `ids`, a few at a time, in order of completion per worker. */
export async function eachLimited(ids: readonly string[], fn: (id: string) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < ids.length) await fn(ids[next++] as string)
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL, ids.length) }, worker))
}
