// Typed reads of untrusted objects (frames, HTTP bodies). Each throws AppError('bad_request')
// naming the field, so every bad input gets a clear error.
import { AppError } from './errors.js'

type Obj = Readonly<Record<string, unknown>>

function bad(field: string, what: string): never {
  throw new AppError('bad_request', `\`${field}\` ${what}`)
}

export function reqString(o: Obj, field: string, max = 255, min = 1): string {
  const v = o[field]
  if (typeof v !== 'string') bad(field, 'must be a string')
  if (v.length < min || v.length > max) bad(field, `must be ${min}–${max} characters`)
  return v
}

export function optString(o: Obj, field: string, max = 255): string | undefined {
  const v = o[field]
  if (v === undefined) return undefined
  return reqString(o, field, max, 0)
}

export function optNullableString(o: Obj, field: string, max = 255): string | null | undefined {
  return o[field] === null ? null : optString(o, field, max)
}

export function optInt(o: Obj, field: string, min: number, max: number): number | undefined {
  const v = o[field]
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) bad(field, 'must be an integer')
  if (v < min || v > max) bad(field, `must be between ${min} and ${max}`)
  return v
}

export function optBool(o: Obj, field: string): boolean | undefined {
  const v = o[field]
  if (v === undefined) return undefined
  if (typeof v !== 'boolean') bad(field, 'must be a boolean')
  return v
}

export function optStringArray(o: Obj, field: string, maxItems: number, maxLen = 255): string[] | undefined {
  const v = o[field]
  if (v === undefined) return undefined
  if (!Array.isArray(v) || v.length > maxItems) bad(field, `must be an array of at most ${maxItems} strings`)
  return v.map((item: unknown) => {
    if (typeof item !== 'string' || item.length === 0 || item.length > maxLen) bad(field, `must hold strings of 1–${maxLen} characters`)
    return item
  })
}

/** A plain JSON object of bounded encoded size (customAttributes, additionalAttributes…). */
export function optObject(o: Obj, field: string, maxBytes = 16_384): Record<string, unknown> | undefined {
  const v = o[field]
  if (v === undefined) return undefined
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(field, 'must be an object')
  if (JSON.stringify(v).length > maxBytes) throw new AppError('too_large', `\`${field}\` is over ${maxBytes} bytes`)
  return v as Record<string, unknown>
}

export function oneOf<T extends string>(o: Obj, field: string, allowed: readonly T[]): T | undefined {
  const v = o[field]
  if (v === undefined) return undefined
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) bad(field, `must be one of ${allowed.join(', ')}`)
  return v as T
}

// String.prototype.isWellFormed (Node 20+, not in the ES2023 lib types)
const isWellFormed = (String.prototype as unknown as { isWellFormed: (this: string) => boolean }).isWellFormed

/**
 * Why `s` cannot be stored as text, or null when it can. PostgreSQL `text` and `jsonb` cannot hold
 * U+0000, and an unpaired UTF-16 surrogate has no UTF-8 form (drivers write U+FFFD instead): both
 * would make the archived copy differ from what Redis served, so both are refused, never changed.
 * The one check for every string a client can write (frames, HTTP bodies, upgrade parameters).
 */
export function textProblem(s: string): string | null {
  if (s.includes('\u0000')) return 'holds U+0000 (NUL), which cannot be stored'
  if (!isWellFormed.call(s)) return 'holds an unpaired UTF-16 surrogate (not valid Unicode text)'
  return null
}

/** Throws bad_request when any string or key in `value` (any depth) fails textProblem; `path` names it. */
export function assertStorable(value: unknown, path = ''): void {
  if (typeof value === 'string') {
    const why = textProblem(value)
    if (why !== null) throw new AppError('bad_request', `\`${path}\` ${why}`)
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => assertStorable(v, `${path}[${i}]`))
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      const why = textProblem(k)
      if (why !== null) throw new AppError('bad_request', `a key in ${path === '' ? 'the body' : `\`${path}\``} ${why}`)
      assertStorable(v, path === '' ? k : `${path}.${k}`)
    }
  }
}
