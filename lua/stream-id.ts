// Redis Stream ids ("<ms>-<seq>"): parsing and ordering. Text order is wrong ("9-0" > "10-0"), so
// every comparison goes through here.

export type StreamId = { ms: bigint; seq: bigint }

const ID_RE = /^(\d{1,20})(?:-(\d{1,20}))?$/

export function parseStreamId(id: string): StreamId | null {
  const m = ID_RE.exec(id)
  if (!m?.[1]) return null
  return { ms: BigInt(m[1]), seq: BigInt(m[2] ?? '0') }
}

/** -1, 0 or 1; an unparseable id sorts first. Digit strings compared as such: no BigInt per call. */
export function compareStreamIds(a: string, b: string): number {
  const x = ID_RE.exec(a)
  const y = ID_RE.exec(b)
  if (x === null || y === null) return x === y ? 0 : x === null ? -1 : 1
  return compareDigits(x[1] as string, y[1] as string) || compareDigits(x[2] ?? '0', y[2] ?? '0')
}

function compareDigits(p: string, q: string): number {
  // Redis writes no leading zeros; strip them only when present (no allocation per notice otherwise)
  const u = p.length > 1 && p.charCodeAt(0) === 48 ? p.replace(/^0+(?=\d)/, '') : p
  const v = q.length > 1 && q.charCodeAt(0) === 48 ? q.replace(/^0+(?=\d)/, '') : q
  if (u.length !== v.length) return u.length < v.length ? -1 : 1
  return u < v ? -1 : u > v ? 1 : 0
}

export function minStreamId(ids: readonly (string | null | undefined)[]): string | null {
  let min: string | null = null
  for (const id of ids) {
    if (id === null || id === undefined || parseStreamId(id) === null) continue
    if (min === null || compareStreamIds(id, min) < 0) min = id
  }
  return min
}

export function maxStreamId(ids: readonly string[]): string | null {
  let max: string | null = null
  for (const id of ids) if (max === null || compareStreamIds(id, max) > 0) max = id
  return max
}

/** The millisecond part (the Redis clock when the entry was added). */
export function streamIdMs(id: string): number | null {
  const p = parseStreamId(id)
  return p === null ? null : Number(p.ms)
}

/** "0-0" (and the absence of an id) means "nothing": Redis uses it for an empty group position. */
export function isZeroId(id: string | null | undefined): boolean {
  return id === null || id === undefined || id === '0-0' || id === '0'
}
