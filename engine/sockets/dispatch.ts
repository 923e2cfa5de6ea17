// The input side of the sockets: a frame is decoded, its op looked up, checked against the
// connection's role and rate, run, and answered with its ref. Every bad frame gets an error reply;
// only undecodable bytes count as garbage, and repeated garbage closes with 1008.
import type { EngineConfig } from '../config.js'
import { connLog, type ConnData, type Socket } from '../connection.js'
import { AppError, toAppError } from '../errors.js'
import { decodeFrame } from '../frames.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import type { Op } from '../ops/types.js'
import { CLOSE, type ErrorCode } from '../protocol.js'
import type { SocketWriter } from './writer.js'

export function createDispatcher<Deps>(opts: {
  config: EngineConfig; log: Logger; metrics: Metrics; writer: SocketWriter
  ops: Readonly<Record<string, Op<Deps>>>
  deps: Deps
  /** per-connection op rate limit: resolves, or throws AppError('rate_limited') */
  admit?: ((conn: ConnData, op: Op<Deps>) => Promise<void> | void) | undefined
}) {
  const { config, log, metrics, ops, deps } = opts
  const { send } = opts.writer

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

  return { onMessage }
}
