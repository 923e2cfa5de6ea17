// Edited and deleted messages (lua/updateMessage-5.lua): the conversation log is append-only, so a
// message's current version lives in the conversation's edits hash (message id -> JSON) and every
// reader lays it over what it read, whether from the log or from PostgreSQL (the archiver applies
// message.updated in place, but may lag). The log also carries update entries (field `u`): `resume`
// hands those to clients that missed the message.updated event.
import type { RedisClient } from '../../lua/client.js'
import type { Message } from '../views.js'

/** The current version of each message (same order); one HMGET, skipped for an empty page. */
export async function overlayEdits<M extends { id: string }>(redis: RedisClient, editsKey: string, messages: M[]): Promise<M[]> {
  if (messages.length === 0) return messages
  const current = await redis.hmget(editsKey, ...messages.map((m) => m.id))
  return messages.map((m, i) => {
    const raw = current[i]
    return raw === null || raw === undefined ? m : ({ ...(JSON.parse(raw) as M), id: m.id })
  })
}

/** Is this log entry a message (`m`), rather than an update entry (`u`)? */
export function isMessageEntry(fields: readonly string[]): boolean {
  return fields[0] === 'm'
}

/** The message an update entry carries (its original id inside), or null for a message entry. */
export function updateFromEntry(fields: readonly string[]): Message | null {
  if (fields[0] !== 'u' || fields[1] === undefined) return null
  return JSON.parse(fields[1]) as Message
}
