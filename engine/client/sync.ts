// The life of one view across sockets: after each hello a resync (resync.ts) runs while the
// socket's events are held back; then the held events are merged (view.ts), `synced` is told and
// the outbox goes live. A drop, a newer hello or close() cancels a resync in progress; a resync
// that fails for another reason replaces the socket. Internal calls wait out rate limits.
import { ParleyError, RETRYABLE } from './errors.js'
import type { Outbox } from './outbox.js'
import type { Requests } from './requests.js'
import { CANCELLED, eachLimited, resyncConversation, type ResyncCtx } from './resync.js'
import type { HeldStore } from './store.js'
import type { ClientEvents } from './types.js'
import type { View } from './view.js'
import type { EventFrame } from '../wire.js'

const INTERNAL_RETRIES = 5

export type SyncHooks = {
  role: 'agent' | 'contact'
  /** before the per-conversation resync (agents re-run their lists here) */
  beforeResync?: (ctx: ResyncCtx, reconnect: boolean) => Promise<void>
  /** after it (agents refresh presence, widgets agentsOnline) */
  afterResync?: (ctx: ResyncCtx, reconnect: boolean) => Promise<void>
}

export function createSync(deps: {
  held: HeldStore
  view: View
  requests: Requests
  outbox: Outbox
  hooks: SyncHooks
  emit: <K extends keyof ClientEvents>(type: K, data: ClientEvents[K]) => void
  /** replace the socket: the view could not be completed on it */
  restart: () => void
}) {
  const { held, view, requests, hooks, emit } = deps
  let gen = 0
  let syncing = true
  let buffered: EventFrame[] = []
  let everSynced = false
  let waiters: { resolve: () => void; reject: (e: ParleyError) => void }[] = []

  /** an internal call that waits out rate limits (a resync must not fail on a burst) */
  async function call(op: string, params: Record<string, unknown>, my: number): Promise<Record<string, unknown>> {
    for (let i = 0; ; i++) {
      try {
        return (await requests.request(op, params)) as Record<string, unknown>
      } catch (err) {
        const e = err as ParleyError
        if (!RETRYABLE.has(e.code) || i >= INTERNAL_RETRIES || my !== gen) throw e
        await new Promise((r) => setTimeout(r, e.retryAfterMs ?? 500))
      }
    }
  }

  function begin(reconnect: boolean): void {
    const my = ++gen
    syncing = true
    buffered = []
    const ctx: ResyncCtx = {
      held, role: hooks.role, current: () => my === gen, fresh: new Map(),
      call: (op, params) => call(op, params, my),
      message: view.streamMessage, conversation: view.conversation, removed: view.removed, statusChanged: view.statusChanged,
    }
    const run = async () => {
      await hooks.beforeResync?.(ctx, reconnect)
      await eachLimited([...new Set([...held.ids(), ...ctx.fresh.keys()])], (id) => resyncConversation(ctx, id))
      await hooks.afterResync?.(ctx, reconnect)
    }
    run().then(() => {
      if (my !== gen) return
      view.clearTyping(reconnect)
      syncing = false
      const b = buffered
      buffered = []
      for (const ev of b) view.applyEvent(ev)
      everSynced = true
      emit('synced', { reconnect })
      for (const w of waiters) w.resolve()
      waiters = []
      deps.outbox.setLive(true)
    }, (err: unknown) => {
      if (my !== gen || err === CANCELLED) return
      const e = err instanceof ParleyError ? err : new ParleyError('internal', String(err))
      if (e.code === 'disconnected' || e.code === 'closed') return
      emit('error', e)
      deps.restart()
    })
  }

  return {
    begin,
    /** an event from the socket: held back while a resync runs */
    event(ev: EventFrame): void {
      if (syncing) buffered.push(ev)
      else view.applyEvent(ev)
    },
    /** the socket is gone: cancel, hold the outbox */
    down(): void {
      gen++
      syncing = true
      buffered = []
      deps.outbox.setLive(false)
    },
    close(err: ParleyError): void {
      gen++
      for (const w of waiters) w.reject(err)
      waiters = []
    },
    /** resolves at the next `synced` (at once when synced now) */
    whenSynced(live: boolean): Promise<void> {
      if (!syncing && live) return Promise.resolve()
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }))
    },
    synced: (live: boolean) => everSynced && !syncing && live,
  }
}
export type Sync = ReturnType<typeof createSync>
