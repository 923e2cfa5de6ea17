import { AppError } from '../errors.js'

/** The one table mapping negative script statuses onto protocol error codes. */
export function scriptError(reply: unknown[]): AppError {
  const status = reply[0]
  switch (status) {
    case -1: return new AppError('not_found', 'no such conversation')
    case -2: return new AppError('forbidden', String(reply[1] ?? 'not allowed for this conversation'))
    case -3: return new AppError('flood_limited', 'too many messages in this conversation in the last minute', { retryAfterMs: Number(reply[1]) })
    case -4: return new AppError('invalid_state', String(reply[1] ?? 'not allowed in the conversation\'s current state'))
    case -5: return new AppError('conflict', String(reply[1] ?? 'the conversation changed meanwhile'))
    case -6: return new AppError('not_found', 'no such message')
    default: return new AppError('internal', `unexpected script status ${String(status)}`)
  }
}
