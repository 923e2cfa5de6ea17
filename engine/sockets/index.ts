// The WebSocket side of a node: the hello, the live sockets (for fan-out and shutdown), and the
// uWS behavior that ties the input side (dispatch.ts: decode, op, reply) to the output side
// (writer.ts: per-turn corked batches, the backpressure bound).
import type { EngineConfig } from '../config.js'
import { connLog, type ConnData, type Socket } from '../connection.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import type { Op } from '../ops/types.js'
import { createDispatcher } from './dispatch.js'
import { createSocketWriter } from './writer.js'

export type { Socket } from '../connection.js'

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
  const { config, log, metrics } = opts
  const live = new Set<Socket>()
  const writer = createSocketWriter({ config, log, metrics, end })
  const { send, deliver, flush, closeSlow, enterHandler, leaveHandler } = writer
  const { onMessage } = createDispatcher({ config, log, metrics, writer, ops: opts.ops, deps: opts.deps, admit: opts.admit })

  const behavior = {
    open: (ws: Socket) => {
      const conn = ws.getUserData()
      live.add(ws)
      metrics.connections.inc({ role: conn.role })
      const hello = conn.hello ?? {}
      conn.hello = null
      enterHandler()
      try {
        send(ws, { op: 'hello', data: { ...hello, serverTime: Date.now() } })
      } finally {
        leaveHandler()
      }
      opts.hooks?.onOpen?.(ws, hello)
    },
    message: (ws: Socket, message: ArrayBuffer, isBinary: boolean) => {
      enterHandler()
      try {
        onMessage(ws, message, isBinary)
      } finally {
        leaveHandler()
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
