import { NotReplicatedError } from '../lua/scripts.js'
import type { ErrorCode } from './protocol.js'

export class AppError extends Error {
  override name = 'AppError'
  readonly code: ErrorCode
  readonly retryAfterMs: number | undefined
  constructor(code: ErrorCode, message: string, opts: { retryAfterMs?: number } = {}) {
    super(message)
    this.code = code
    this.retryAfterMs = opts.retryAfterMs
  }
}

/** Maps anything thrown below the protocol layer onto an AppError (Redis down → `unavailable`). */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err
  // REDIS_WAIT_REPLICAS: written on the master, not yet confirmed by enough replicas
  if (err instanceof NotReplicatedError) {
    return new AppError('unavailable', 'not yet confirmed by a replica; send it again (same echoId) shortly', { retryAfterMs: 1000 })
  }
  const message = err instanceof Error ? err.message : String(err)
  if (/Connection is closed|ECONNREFUSED|ECONNRESET|Stream isn't writeable|max retries|MaxRetriesPerRequest|LOADING|READONLY|Command timed out|enableOfflineQueue/i.test(message)) {
    return new AppError('unavailable', 'the data store is unreachable, try again', { retryAfterMs: 1000 })
  }
  // a cluster failing over or moving a slot (after lua/scripts.ts waited for it), or no node reachable
  if (/^(TRYAGAIN|CLUSTERDOWN|MOVED|ASK)\b|Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes is available|Cluster isn't ready|ClusterAllFailedError/.test(message)) {
    return new AppError('unavailable', 'the data store is failing over or moving this data, try again', { retryAfterMs: 1000 })
  }
  return new AppError('internal', 'internal error')
}
