// The partition event stream's entry format, shared by the engine (and its Lua scripts, which
// write the same fields) and the archiver. One entry = one state change:
//   t  event type, e.g. "message.created", "account.created"
//   a  account id
//   u  unique key minted when the change was accepted (idempotency key for the archive)
//   ts time of the change, ms
//   d  JSON payload (the object as the protocol spells it). One exception: message.created from
//      appendMessage carries, as `conversation`, the brief of what a message changes (`partial:
//      true`, lua/_lib.lua conv_brief) rather than the whole Conversation; entries written before
//      carry the whole one. Consumers read both (archiver/project.ts).

export type StreamEvent = {
  readonly id: string
  readonly type: string
  readonly accountId: string
  readonly uid: string
  readonly ts: number
  readonly data: Record<string, unknown>
}

export function eventFields(type: string, accountId: string, uid: string, ts: number, data: unknown): string[] {
  return ['t', type, 'a', accountId, 'u', uid, 'ts', String(ts), 'd', JSON.stringify(data)]
}

/** Parses one XREAD/XRANGE entry (`[id, [field, value, …]]`); null when it is not an event. */
export function parseEvent(id: string, fields: readonly string[]): StreamEvent | null {
  const m = new Map<string, string>()
  for (let i = 0; i + 1 < fields.length; i += 2) m.set(fields[i] as string, fields[i + 1] as string)
  const type = m.get('t')
  const accountId = m.get('a')
  const uid = m.get('u')
  const ts = Number(m.get('ts'))
  const raw = m.get('d')
  if (type === undefined || accountId === undefined || uid === undefined || raw === undefined || !Number.isFinite(ts)) return null
  let data: unknown
  try {
    data = JSON.parse(raw)
  } catch {
    return null
  }
  if (typeof data !== 'object' || data === null) return null
  return { id, type, accountId, uid, ts, data: data as Record<string, unknown> }
}

// The fan-out notice published on a partition channel (by `publish` in _lib.lua, and by the engine
// for typing and control notices): optionally its notice-log id and a space (every notice a script
// publishes is logged first; see keys.ts `notices`), a small JSON header, a newline, then the event
// data as JSON text. JSON never holds a raw newline, so the split is exact, and a node forwards the
// data to JSON clients without parsing or re-encoding it.
//   t event type, a account, i inbox ('' = account-wide), c contact id ('' = none),
//   p 1 = agents only, x connection id not to deliver to (the sender's own, for typing)

/** How long a partition's notice log keeps a notice (ms of Redis time); lua/scripts.ts hands it
 *  to `publish` in _lib.lua. A node whose subscription was down longer misses notices for good. */
export const NOTICE_LOG_MS = 15_000

export type NoticeHeader = { t: string; a: string; i: string; c: string; p: 0 | 1; x?: string }

/** A notice without a log id (the engine's own: typing, control). */
export function encodeNotice(header: NoticeHeader, data: unknown): string {
  return `${JSON.stringify(header)}\n${JSON.stringify(data)}`
}

/** The log id of a notice ('<id> {…'), or null for an unlogged one ('{…'); no JSON parsed. */
export function noticeId(raw: string): string | null {
  if (raw.charCodeAt(0) === 123 /* { */) return null
  const sp = raw.indexOf(' ')
  return sp > 0 ? raw.slice(0, sp) : null
}

/** The header parsed, the data still as JSON text; null when it is not a notice. */
export function splitNotice(raw: string): { id: string | null; header: NoticeHeader; data: string } | null {
  const id = noticeId(raw)
  const start = id === null ? 0 : id.length + 1
  const nl = raw.indexOf('\n', start)
  if (nl < 0) return null
  try {
    const header = JSON.parse(raw.slice(start, nl)) as NoticeHeader
    return typeof header.t === 'string' ? { id, header, data: raw.slice(nl + 1) } : null
  } catch {
    return null
  }
}
