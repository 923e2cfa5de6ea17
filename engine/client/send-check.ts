// What `send` checks before a message enters the outbox: what the engine would refuse anyway
// (no conversation, blank or too long content, U+0000 or an unpaired surrogate, a bad echoId) is
// rejected at once with the engine's code, so it is never stored, retried or sent.
import { ParleyError } from './errors.js'
import type { SendOptions } from './types.js'

/** U+0000 or a UTF-16 surrogate without its pair: text the engine refuses (engine/PROTOCOL.md) */
const NOT_TEXT = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/

export function sendProblem(conversationId: unknown, content: unknown, opts: SendOptions, maxChars: number): ParleyError | null {
  if (typeof conversationId !== 'string' || conversationId === '') return new ParleyError('bad_request', 'send: `conversationId` is required')
  if (typeof content !== 'string' || content.trim() === '') return new ParleyError('bad_request', 'send: `content` must be a non-empty string')
  if (content.length > maxChars) return new ParleyError('too_large', `send: \`content\` is over ${maxChars} characters`)
  if (NOT_TEXT.test(content)) return new ParleyError('bad_request', 'send: `content` holds U+0000 or an unpaired surrogate')
  const echoId: unknown = opts.echoId
  if (echoId !== undefined && (typeof echoId !== 'string' || echoId.length < 1 || echoId.length > 128 || NOT_TEXT.test(echoId))) {
    return new ParleyError('bad_request', 'send: `echoId` must be 1–128 characters of text')
  }
  return null
}
