// The one error the SDK rejects with and reports: a protocol error code (or the SDK's own) and,
// for flood_limited / rate_limited / unavailable, the server's retryAfterMs.
import type { ErrorCode } from '../protocol.js'

/** a protocol error code, or the SDK's own: not connected, no answer in time, closed by the app, an app handler threw */
export type ClientErrorCode = ErrorCode | 'disconnected' | 'timeout' | 'closed' | 'handler'

export class ParleyError extends Error {
  override name = 'ParleyError'
  readonly code: ClientErrorCode
  readonly retryAfterMs: number | undefined
  /** set on errors of an outbox send */
  echoId?: string
  conversationId?: string
  /** set on `handler` errors: the error an app's event handler threw */
  override cause?: unknown
  constructor(code: ClientErrorCode, message: string, retryAfterMs?: number) {
    super(message)
    this.code = code
    this.retryAfterMs = retryAfterMs
  }
}

/** codes after which the same request, later, may succeed (the outbox retries these) */
export const RETRYABLE = new Set<string>(['flood_limited', 'rate_limited', 'unavailable'])
