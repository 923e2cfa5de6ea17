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
