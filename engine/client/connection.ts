// One logical connection over many sockets: connect, wait for `hello`, ping, and reconnect with
// full-jitter backoff after a drop (at once when the app calls wake(): browser online / focus /
// visible). Refused upgrades: 401/403 (or, where the status is hidden, a close-without-open while
// the engine's /readyz answers ready) count as refusals, and the third in a row ends the client (`closed`):
// no reconnect storm on a bad token. Close code 4001 (credentials revoked) ends it at once.
import { createBackoff } from './backoff.js'
import { ParleyError } from './errors.js'
import type { Backoff, Codec, Opener, Refusal, SocketHandle, State } from './types.js'
import type { Hello } from '../wire.js'

export const MAX_REFUSALS = 3
const HELLO_TIMEOUT_MS = 10_000

export type ConnectionDeps = {
  opener: Opener
  /** the endpoint URL, asked before every attempt (a widget's session may have changed) */
  url: () => string
  codec: Codec
  backoff?: Backoff
  /** resolves true when the engine is up and ready (used when a refusal's status is hidden) */
  probe: (() => Promise<boolean>) | null
  pingIntervalMs?: number
  pingTimeoutMs?: number
  ping: () => Promise<unknown>
  onState: (state: State, previous: State) => void
  onHello: (hello: Hello) => void
  onFrame: (frame: Record<string, unknown>) => void
  /** the socket that said hello is gone */
  onDown: () => void
  onFatal: (err: ParleyError) => void
}

export function createConnection(deps: ConnectionDeps) {
  const backoff = createBackoff(deps.backoff)
  let state: State = 'connecting'
  let gen = 0
  let socket: SocketHandle | null = null
  let ready = false
  let refusals = 0
  let retryTimer: ReturnType<typeof setTimeout> | null = null
  let helloTimer: ReturnType<typeof setTimeout> | null = null
  let pingTimer: ReturnType<typeof setInterval> | null = null

  function setState(next: State): void {
    if (next === state) return
    const prev = state
    state = next
    deps.onState(next, prev)
  }

  function clearTimers(): void {
    if (helloTimer !== null) clearTimeout(helloTimer)
    if (pingTimer !== null) clearInterval(pingTimer)
    helloTimer = pingTimer = null
  }

  function attempt(): void {
    retryTimer = null
    if (state === 'closed') return
    const my = ++gen
    let url: string
    try {
      url = deps.url()
    } catch (err) {
      return fatal(err instanceof ParleyError ? err : new ParleyError('bad_request', String(err)))
    }
    socket = deps.opener(url, deps.codec.subprotocol, {
      open: () => {
        if (my !== gen) return
        helloTimer = setTimeout(() => my === gen && drop(4000, 'no hello from the server'), HELLO_TIMEOUT_MS)
      },
      message: (data) => {
        if (my !== gen) return
        let frame: Record<string, unknown>
        try {
          frame = deps.codec.decode(data) as Record<string, unknown>
        } catch {
          return // a frame we cannot read: ignore it (the server never sends one)
        }
        if (frame === null || typeof frame !== 'object') return
        if (!ready) {
          if (frame['op'] !== 'hello') return
          ready = true
          refusals = 0
          backoff.reset()
          if (helloTimer !== null) clearTimeout(helloTimer)
          helloTimer = null
          const hello = frame['data'] as Hello
          startPing(my, hello.heartbeatMs)
          setState('open')
          deps.onHello(hello)
          return
        }
        deps.onFrame(frame)
      },
      close: (code, reason, opened, refused) => {
        if (my !== gen) return
        closed(code, reason, opened, refused).catch(() => {})
      },
    })
  }

  function startPing(my: number, heartbeatMs: number): void {
    const every = deps.pingIntervalMs ?? Math.min(20_000, Math.max(1000, Math.floor((heartbeatMs || 30_000) / 2)))
    const timeout = deps.pingTimeoutMs ?? 10_000
    pingTimer = setInterval(() => checkAlive(my, timeout), every)
  }

  /** an app-level ping: a socket that does not answer in time is dead, even if the browser thinks not */
  function checkAlive(my: number, timeout = deps.pingTimeoutMs ?? 10_000): void {
    if (my !== gen || !ready) return
    const timer = setTimeout(() => my === gen && drop(4000, 'ping timeout'), timeout)
    deps.ping().then(() => clearTimeout(timer), (err: ParleyError) => {
      clearTimeout(timer)
      // rate_limited and the like still prove the socket alive; disconnected means it is gone already
      if (err.code === 'timeout' && my === gen) drop(4000, 'ping timeout')
    })
  }

  /** give up on the current socket now (no waiting for a close handshake on a dead link) */
  function drop(code: number, reason: string): void {
    const s = socket
    gen++
    socket = null
    s?.close(code === 4000 ? 4000 : 1000, reason)
    void closed(code, reason, true)
  }

  async function closed(code: number, _reason: string, opened: boolean, refused?: Refusal): Promise<void> {
    const wasReady = ready
    ready = false
    socket = null
    clearTimers()
    if (state === 'closed') return
    if (wasReady) deps.onDown()
    if (code === 4001) return fatal(new ParleyError('unauthorized', 'the server revoked these credentials (4001): sign in again'))
    let wait = -1
    if (!wasReady && !opened) {
      const my = gen
      const status = refused?.status ?? (deps.probe !== null && (await deps.probe()) ? 0 : -1)
      if ((state as State) === 'closed' || my !== gen) return
      if (status === 401 || status === 403 || status === 0) {
        refusals++
        if (refusals >= MAX_REFUSALS) {
          const c = status === 403 ? 'forbidden' : 'unauthorized'
          const why = refused?.message ?? (status === 0
            ? 'the server is up but refused the WebSocket upgrade (a browser hides the HTTP status: bad token, origin not allowed or connection rate limit)'
            : `the server refused the connection (HTTP ${status})`)
          return fatal(new ParleyError(c, `${why}; gave up after ${refusals} attempts`))
        }
      }
      if (refused?.retryAfterMs !== undefined) wait = refused.retryAfterMs
    }
    setState(state === 'connecting' && !wasReady ? 'connecting' : 'reconnecting')
    schedule(Math.max(wait, backoff.next()))
  }

  function schedule(ms: number): void {
    if (retryTimer !== null) clearTimeout(retryTimer)
    retryTimer = setTimeout(attempt, ms)
  }

  function fatal(err: ParleyError): void {
    if (state === 'closed') return
    stop()
    deps.onFatal(err)
  }

  function stop(): void {
    gen++
    clearTimers()
    if (retryTimer !== null) clearTimeout(retryTimer)
    retryTimer = null
    const s = socket
    socket = null
    ready = false
    setState('closed')
    s?.close(1000, 'client closed')
  }

  return {
    start: attempt,
    /** sends a frame when a socket has said hello; false otherwise */
    send(frame: Record<string, unknown>): boolean {
      if (!ready || socket === null) return false
      try {
        socket.send(deps.codec.encode(frame))
        return true
      } catch {
        return false
      }
    },
    /** the page came back (online, visible, focused): reconnect now, or check a live socket at once */
    wake(): void {
      if (state === 'closed') return
      if (retryTimer !== null) schedule(0)
      else if (ready) checkAlive(gen)
    },
    /** replace the current socket (e.g. a resync that could not complete on it) */
    restart(reason: string): void {
      if (ready) drop(4000, reason)
    },
    stop,
    get state() { return state },
    get ready() { return ready },
  }
}
export type Connection = ReturnType<typeof createConnection>
