// Business hours per inbox: `PATCH …/inboxes/:id {businessHours: {timezone, weekly} | null}`. Stored
// on the inbox hash and carried by an inbox.updated event to the archive, where business_ms()
// (migration 00004) counts first response, resolution and waiting times inside them
// (reports with businessHours=true). null = always open.
import type { RedisClient } from '../../lua/client.js'
import { eventFields } from '../../lua/codec.js'
import { keysFor, partitionOf } from '../../lua/keys.js'
import { AppError } from '../errors.js'
import { newUid } from '../ids.js'

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const
export type Weekday = (typeof WEEKDAYS)[number]
export type BusinessHours = { timezone: string; weekly: Partial<Record<Weekday, { open: string; close: string }[]>> }

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$|^24:00$/

/** An IANA time zone name the runtime knows (Area/City, or UTC); else bad_request naming `field`. */
export function readTimezone(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length > 64 || !/^[A-Za-z][A-Za-z0-9_+\-]*(\/[A-Za-z0-9_+\-]+){0,2}$/.test(value)) {
    throw new AppError('bad_request', `\`${field}\` must be an IANA time zone like Europe/Berlin`)
  }
  try {
    new Intl.DateTimeFormat('en', { timeZone: value })
  } catch {
    throw new AppError('bad_request', `\`${field}\` ${JSON.stringify(value)} is not a known time zone`)
  }
  return value
}

/** `businessHours` of a body: undefined when absent, null = clear, else validated hours. */
export function readBusinessHours(body: Readonly<Record<string, unknown>>): BusinessHours | null | undefined {
  const v = body['businessHours']
  if (v === undefined || v === null) return v
  if (typeof v !== 'object' || Array.isArray(v)) throw new AppError('bad_request', '`businessHours` must be null or {timezone, weekly}')
  const o = v as Record<string, unknown>
  for (const key of Object.keys(o)) if (key !== 'timezone' && key !== 'weekly') throw new AppError('bad_request', `\`businessHours.${key}\` is not a field (timezone, weekly)`)
  const timezone = readTimezone(o['timezone'], 'businessHours.timezone')
  const weekly = o['weekly']
  if (typeof weekly !== 'object' || weekly === null || Array.isArray(weekly)) {
    throw new AppError('bad_request', '`businessHours.weekly` must be an object of days (mon … sun) to [{open: "09:00", close: "17:00"}]')
  }
  const out: BusinessHours['weekly'] = {}
  for (const [day, ranges] of Object.entries(weekly as Record<string, unknown>)) {
    if (!(WEEKDAYS as readonly string[]).includes(day)) throw new AppError('bad_request', `\`businessHours.weekly.${day}\` is not a day (mon, tue, wed, thu, fri, sat, sun)`)
    if (!Array.isArray(ranges) || ranges.length > 8) throw new AppError('bad_request', `\`businessHours.weekly.${day}\` must be an array of at most 8 {open, close} ranges`)
    const list = ranges.map((r: unknown, i) => {
      const range = (typeof r === 'object' && r !== null ? r : {}) as Record<string, unknown>
      const open = range['open']
      const close = range['close']
      if (typeof open !== 'string' || typeof close !== 'string' || !HHMM.test(open) || !HHMM.test(close) || open === '24:00') {
        throw new AppError('bad_request', `\`businessHours.weekly.${day}[${i}]\` must be {open: "HH:MM", close: "HH:MM"} (close may be "24:00")`)
      }
      if (open >= close) throw new AppError('bad_request', `\`businessHours.weekly.${day}[${i}]\` must open before it closes`)
      return { open, close }
    }).sort((a, b) => (a.open < b.open ? -1 : 1))
    for (let i = 1; i < list.length; i++) {
      if ((list[i]?.open ?? '') < (list[i - 1]?.close ?? '')) throw new AppError('bad_request', `\`businessHours.weekly.${day}\` has overlapping ranges`)
    }
    out[day as Weekday] = list
  }
  return { timezone, weekly: out }
}

/** The inbox hash's business hours (null: none set). */
export function businessHoursFrom(raw: string | undefined): BusinessHours | null {
  if (raw === undefined || raw === '') return null
  return JSON.parse(raw) as BusinessHours
}

/** Stores an inbox's business hours (null clears them) with its inbox.updated event, in one MULTI. */
export async function setInboxBusinessHours(
  deps: { redis: RedisClient; partitions: number; now?: () => number }, accountId: string, inboxId: string, hours: BusinessHours | null,
): Promise<void> {
  const k = keysFor(partitionOf(accountId, deps.partitions))
  const ts = (deps.now ?? Date.now)()
  await deps.redis.multi()
    .hset(k.inbox(inboxId), 'businessHours', hours === null ? '' : JSON.stringify(hours))
    .xadd(k.events, '*', ...eventFields('inbox.updated', accountId, newUid(), ts, { id: inboxId, accountId, businessHours: hours }))
    .exec()
}
