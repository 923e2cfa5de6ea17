// The WebSocket side of a node: hello, frame decoding, op dispatch, replies, and the set of live
// sockets (for fan-out and shutdown). Every bad frame gets an error reply; repeated garbage closes
// with 1008; a client that stops reading is closed once its buffer passes the bound.
//
// Frames sent outside a uWS handler (fan-out from the Redis subscriber, replies after an await) are
// queued per socket and written once per event-loop turn, each socket's batch inside `ws.cork`, so
// a socket gets one write syscall per turn instead of one per frame. Inside a handler uWS corks
// already: a socket with nothing queued is written to at once.
import type { WebSocket } from 'uWebSockets.js'
import type { EngineConfig } from './config.js'
import { connLog, type ConnData } from './connection.js'
import { AppError, toAppError } from './errors.js'
import { decodeFrame, encodeFrame } from './frames.js'
import type { Logger } from './log.js'
import type { Metrics } from './metrics.js'
import type { Op } from './ops/types.js'
import { CLOSE, type ErrorCode, type ServerFrame } from './protocol.js'

export type Socket = WebSocket<ConnData>

export type SocketHooks = {
  /** after the hello went out; `hello` is its data (the connection no longer holds it) */
  onOpen?: (ws: Socket, hello: Readonly<Record<string, unknown>>) => void
  onClose?: (conn: ConnData, ws: Socket) => void
}

export function createSockets<Deps>(opts: {
  config: EngineConfig
  log: Logger
  metrics: Metrics
  ops: Readonly<Record<string, Op<Deps>>>
  deps: Deps
  /** per-connection op rate limit: resolves, or throws AppError('rate_limited') */
  admit?: (conn: ConnData, op: Op<Deps>) => Promise<void> | void
  hooks?: SocketHooks
}) {
  const { config, log, metrics, ops, deps } = opts
  const live = new Set<Socket>()

  /** frames waiting for this turn's flush, per socket, in send order (payload, isBinary, ...) */
  let queued = new Map<Socket, { conn: ConnData; frames: (string | Buffer | boolean)[] }>()
  let flushScheduled = false
  /** > 0 while a uWS handler runs: its sends are corked by uWS itself */
  let inHandler = 0

  /** Sends one frame; a client over the backpressure bound is cut off (it will `resume`). */
  function send(ws: Socket, frame: ServerFrame): void {
    const conn = ws.getUserData()
    if (conn.closed) return
    deliver(ws, encodeFrame(frame, conn.codec), conn.codec === 'msgpack')
  }

  /** Sends pre-encoded bytes (fan-out encodes once per codec); queued unless inside a handler. */
  function deliver(ws: Socket, payload: string | Buffer, isBinary: boolean): void {
    const conn = ws.getUserData()
    if (conn.closed) return
    const q = queued.get(ws)
    if (q !== undefined) {
      q.frames.push(payload, isBinary)
      return
    }
    if (inHandler > 0) {
      if (write(ws, payload, isBinary)) closeSlow(ws)
      metrics.framesOut.inc()
      metrics.socketBatches.inc()
      return
    }
    queued.set(ws, { conn, frames: [payload, isBinary] })
    if (!flushScheduled) {
      flushScheduled = true
      setImmediate(flush)
    }
  }

  /** One uWS send; true when the client is past the bound and must be cut off. */
  function write(ws: Socket, payload: string | Buffer, isBinary: boolean): boolean {
    // 2 = uWS dropped it (over its own, higher, limit): never drop silently, cut the client off
    const result = ws.send(payload, isBinary)
    return result === 2 || ws.getBufferedAmount() > config.maxBackpressureBytes
  }

  /** Writes every socket's queued frames, one corked batch per socket. */
  function flush(): void {
    flushScheduled = false
    const batch = queued
    queued = new Map()
    for (const [ws, { conn, frames }] of batch) {
      // closed since the frames were queued: uWS throws on a closed socket, and the client resumes
      if (conn.closed) continue
      let sent = 0
      let slow = false
      try {
        ws.cork(() => {
          for (let i = 0; i < frames.length && !slow; i += 2) {
            slow = write(ws, frames[i] as string | Buffer, frames[i + 1] as boolean)
            sent++
          }
        })
      } catch (err) {
        connLog(log, conn).error({ err, frames: frames.length / 2, sent }, 'socket flush failed')
      }
      metrics.framesOut.inc(sent)
      metrics.socketBatches.inc()
      // after the cork: what fitted is written, then the close frame
      if (slow) closeSlow(ws)
    }
  }

  function closeSlow(ws: Socket): void {
    const conn = ws.getUserData()
    if (conn.closed) return
    connLog(log, conn).warn({ buffered: ws.getBufferedAmount() }, 'closing slow consumer')
    metrics.errors.inc({ code: 'slow_consumer' })
    end(ws, CLOSE.slowConsumer, 'slow consumer: reconnect and resume')
  }

  function replyError(ws: Socket, ref: number | null, code: ErrorCode, message: string, retryAfterMs?: number): void {
    metrics.errors.inc({ code })
    const error = retryAfterMs === undefined ? { code, message } : { code, message, retryAfterMs }
    send(ws, { op: 'reply', ref, ok: false, error })
  }

  async function dispatch(ws: Socket, data: ArrayBuffer, isBinary: boolean): Promise<void> {
    const conn = ws.getUserData()
    const decoded = decodeFrame(data, isBinary, conn.codec, config.maxFrameBytes)
    if (!decoded.ok) {
      replyError(ws, decoded.ref, decoded.code, decoded.message)
      if (decoded.garbage && ++conn.garbage >= config.garbageLimit && !conn.closed) {
        conn.closed = true
        ws.end(CLOSE.policy, 'too many malformed frames')
      }
      return
    }
    const { frame } = decoded
    const op = Object.hasOwn(ops, frame.op) ? ops[frame.op] : undefined
    try {
      if (op === undefined) throw new AppError('bad_request', `unknown op ${JSON.stringify(frame.op)}`)
      if (!op.roles.includes(conn.role)) throw new AppError('forbidden', `op ${frame.op} is not available to a ${conn.role}`)
      if (opts.admit !== undefined) await opts.admit(conn, op)
      const result = await op.run(deps, conn, frame)
      if (frame.ref !== null) send(ws, { op: 'reply', ref: frame.ref, ok: true, data: result ?? {} })
    } catch (err) {
      const e = toAppError(err)
      if (e.code === 'internal') connLog(log, conn).error({ err, op: frame.op }, 'op failed')
      replyError(ws, frame.ref, e.code, e.message, e.retryAfterMs)
    }
  }

  function onMessage(ws: Socket, message: ArrayBuffer, isBinary: boolean): void {
    const conn = ws.getUserData()
    metrics.framesIn.inc({ role: conn.role })
    if (message.byteLength > config.maxPayloadBytes) {
      // uWS itself drops the TCP connection without a close frame past its (higher) hard limit;
      // up to there we close properly with 1009 so clients can tell what happened
      metrics.errors.inc({ code: 'too_large' })
      if (!conn.closed) {
        conn.closed = true
        ws.end(CLOSE.tooBig, 'frame over the payload limit')
      }
      return
    }
    // uWS reuses `message` after this callback returns: decode it before any await
    dispatch(ws, message, isBinary).catch((err: unknown) => connLog(log, conn).error({ err }, 'dispatch failed'))
  }

  const behavior = {
    open: (ws: Socket) => {
      const conn = ws.getUserData()
      live.add(ws)
      metrics.connections.inc({ role: conn.role })
      const hello = conn.hello ?? {}
      conn.hello = null
      inHandler++
      try {
        send(ws, { op: 'hello', data: { ...hello, serverTime: Date.now() } })
      } finally {
        inHandler--
      }
      opts.hooks?.onOpen?.(ws, hello)
    },
    message: (ws: Socket, message: ArrayBuffer, isBinary: boolean) => {
      inHandler++
      try {
        onMessage(ws, message, isBinary)
      } finally {
        inHandler--
      }
    },
    drain: (ws: Socket) => {
      if (ws.getBufferedAmount() > config.maxBackpressureBytes) closeSlow(ws)
    },
    close: (ws: Socket, code: number) => {
      const conn = ws.getUserData()
      if (log.isLevelEnabled('debug')) connLog(log, conn).debug({ code }, 'socket closed')
      conn.closed = true
      live.delete(ws)
      metrics.connections.dec({ role: conn.role })
      opts.hooks?.onClose?.(conn, ws)
    },
  }

  /** Closes one socket now; frames still queued for it are dropped. */
  function end(ws: Socket, code: number, reason: string): void {
    const conn = ws.getUserData()
    if (conn.closed) return
    conn.closed = true
    ws.end(code, reason)
  }

  /** Graceful shutdown: every socket gets the "reconnect" close code. */
  function closeAll(code: number, reason: string): void {
    flush()
    for (const ws of [...live]) end(ws, code, reason)
  }

  return { behavior, send, deliver, live, end, closeAll }
}

export type Sockets = ReturnType<typeof createSockets>
