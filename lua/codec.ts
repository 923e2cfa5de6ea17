// The partition event stream's entry format, shared by the engine (and its Lua scripts, which
// write the same fields) and the archiver. One entry = one state change:
//   t  event type, e.g. "message.created", "account.created"
//   a  account id
//   u  unique key minted when the change was accepted (idempotency key for the archive)
//   ts time of the change, ms
//   d  JSON payload (the object as the protocol spells it)

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
