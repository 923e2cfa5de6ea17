// Requests and their replies: a `ref` per request, a timeout per request (counted from the call),
// a queue for calls made while no socket is open (sent once one is), and rejection of calls in
// flight when the socket drops (`disconnected`: the app cannot know whether the server applied
// them; sends are not affected, the outbox re-sends those with their echoId).
import { ParleyError } from './errors.js'
import type { ErrorBody } from '../protocol.js'

type Pending = {
  frame: Record<string, unknown>
  resolve: (data: unknown) => void
  reject: (err: ParleyError) => void
  timer: ReturnType<typeof setTimeout>
  sent: boolean
}

export function createRequests(deps: { send: (frame: Record<string, unknown>) => boolean; timeoutMs: number }) {
  let nextRef = 1
  const pending = new Map<number, Pending>()
  let failed: ParleyError | null = null

  function request(op: string, params: Record<string, unknown>, timeoutMs = deps.timeoutMs): Promise<unknown> {
    if (failed !== null) return Promise.reject(failed)
    return new Promise((resolve, reject) => {
      const ref = nextRef++
      const timer = setTimeout(() => {
        pending.delete(ref)
        reject(new ParleyError('timeout', `${op}: no reply within ${timeoutMs} ms`))
      }, timeoutMs)
      const p: Pending = { frame: { ...params, op, ref }, resolve, reject, timer, sent: false }
      pending.set(ref, p)
      p.sent = deps.send(p.frame)
    })
  }

  /** true when the frame was a reply to one of ours */
  function onReply(frame: { ref: number | null; ok: boolean; data?: unknown; error?: ErrorBody }): boolean {
    if (frame.ref === null) return false
    const p = pending.get(frame.ref)
    if (p === undefined) return false
    pending.delete(frame.ref)
    clearTimeout(p.timer)
    if (frame.ok) p.resolve(frame.data ?? {})
    else {
      const e = frame.error ?? { code: 'internal' as const, message: 'error reply without error' }
      p.reject(new ParleyError(e.code, e.message, e.retryAfterMs))
    }
    return true
  }

  /** a socket is open: send what was queued */
  function flush(): void {
    for (const p of pending.values()) if (!p.sent) p.sent = deps.send(p.frame)
  }

  /** the socket dropped: calls in flight fail, queued calls wait for the next socket */
  function dropped(): void {
    for (const [ref, p] of pending) {
      if (!p.sent) continue
      pending.delete(ref)
      clearTimeout(p.timer)
      p.reject(new ParleyError('disconnected', `${String(p.frame['op'])}: the connection dropped before the reply`))
    }
  }

  /** the client is closed for good: every call fails with `err`, now and later */
  function failAll(err: ParleyError): void {
    failed = err
    for (const p of pending.values()) {
      clearTimeout(p.timer)
      p.reject(err)
    }
    pending.clear()
  }

  return { request, onReply, flush, dropped, failAll, get size() { return pending.size } }
}
export type Requests = ReturnType<typeof createRequests>
