// The output side of the sockets: frames sent outside a uWS handler (fan-out from the Redis
// subscriber, replies after an await) are queued per socket and written once per event-loop turn,
// each socket's batch inside `ws.cork`, so a socket gets one write syscall per turn instead of one
// per frame. Inside a handler uWS corks already: a socket with nothing queued is written to at
// once. A client that stops reading is closed once its buffer passes the bound (it will `resume`).
import type { EngineConfig } from '../config.js'
import { connLog, type ConnData, type Socket } from '../connection.js'
import { encodeFrame } from '../frames.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import { CLOSE, type ServerFrame } from '../protocol.js'

export function createSocketWriter(opts: {
  config: EngineConfig; log: Logger; metrics: Metrics
  /** closes one socket now (index.ts end) */
  end: (ws: Socket, code: number, reason: string) => void
}) {
  const { config, log, metrics, end } = opts

  /** frames waiting for this turn's flush, per socket, in send order (payload, isBinary, ...) */
  let queued = new Map<Socket, { conn: ConnData; frames: (string | Buffer | boolean)[] }>()
  let flushScheduled = false
  /** > 0 while a uWS handler runs: its sends are corked by uWS itself */
  let inHandler = 0
  /** around a uWS handler's body (try/finally): what it sends is written at once, uWS corks it */
  const enterHandler = () => { inHandler++ }
  const leaveHandler = () => { inHandler-- }

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

  return { send, deliver, flush, closeSlow, enterHandler, leaveHandler }
}

export type SocketWriter = ReturnType<typeof createSocketWriter>
