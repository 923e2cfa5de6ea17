// Contact profile changes (contact.update, the API channel's contact name): the hash write and its
// contact.updated event on the partition stream go in one MULTI, as in the directory. customAttributes
// merge into the stored ones (a key set to null is removed); other fields are replaced, null clears.
import type { RedisClient as Redis } from '../../lua/client.js'
import { eventFields } from '../../lua/codec.js'
import { keysFor, partitionOf } from '../../lua/keys.js'
import { contactFrom, type Directory } from './index.js'
import { AppError } from '../errors.js'
import { newUid } from '../ids.js'
import type { Contact } from '../protocol.js'
import { optObject } from '../validate.js'

export type ContactUpdate = {
  name?: string | null
  email?: string | null
  phone?: string | null
  customAttributes?: Record<string, unknown>
}

const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/
const PHONE = /^\+?[0-9][0-9 ().-]{2,}$/

function text(o: Readonly<Record<string, unknown>>, field: string, max: number, pattern?: RegExp, what?: string): string | null | undefined {
  const v = o[field]
  if (v === undefined || v === null) return v
  if (typeof v !== 'string') throw new AppError('bad_request', `\`${field}\` must be a string or null`)
  const s = v.trim()
  if (s.length > max) throw new AppError('bad_request', `\`${field}\` must be at most ${max} characters`)
  if (s === '') return null
  if (pattern !== undefined && !pattern.test(s)) throw new AppError('bad_request', `\`${field}\` must be ${what ?? 'valid'}`)
  return s
}

/** Reads a contact.update frame (or body); throws bad_request naming the field. */
export function readContactUpdate(o: Readonly<Record<string, unknown>>): ContactUpdate {
  const patch: ContactUpdate = {}
  const name = text(o, 'name', 255)
  if (name !== undefined) patch.name = name
  const email = text(o, 'email', 255, EMAIL, 'an email address like name@example.com')
  if (email !== undefined) patch.email = email === null ? null : email.toLowerCase()
  const phone = text(o, 'phone', 255, PHONE, 'a phone number like +15551234567')
  if (phone !== undefined) patch.phone = phone
  const customAttributes = optObject(o, 'customAttributes', 16_384)
  if (customAttributes !== undefined) patch.customAttributes = customAttributes
  return patch
}

export function createContactUpdater(deps: { redis: Redis; directory: Directory; partitions: number; now?: () => number }) {
  const { redis } = deps
  const now = deps.now ?? Date.now

  /** Applies a patch; the updated contact, or null when it does not exist in this account. */
  async function update(accountId: string, contactId: string, patch: ContactUpdate): Promise<Contact | null> {
    const k = keysFor(partitionOf(accountId, deps.partitions))
    const key = k.contact(contactId)
    // touched, and restored first if it was evicted
    const h = await deps.directory.contactHash(accountId, contactId)
    const current = contactFrom(h)
    if (current === null || current.accountId !== accountId) return null
    const set: Record<string, string> = {}
    const changed: string[] = []
    for (const f of ['name', 'email', 'phone'] as const) {
      const v = patch[f]
      if (v === undefined || (v ?? '') === (h[f] ?? '')) continue
      set[f] = v ?? ''
      changed.push(f)
    }
    if (patch.customAttributes !== undefined) {
      const merged: Record<string, unknown> = { ...current.customAttributes }
      for (const [f, v] of Object.entries(patch.customAttributes)) {
        if (v === null) delete merged[f]
        else merged[f] = v
      }
      const encoded = JSON.stringify(merged)
      if (encoded.length > 65_536) throw new AppError('too_large', 'the contact\'s `customAttributes` would be over 65536 bytes')
      if (encoded !== JSON.stringify(current.customAttributes)) {
        set['customAttributes'] = encoded
        changed.push('customAttributes')
      }
    }
    if (changed.length === 0) return current
    const ts = now()
    const contact = contactFrom({ ...h, ...set })
    if (contact === null) return null
    await redis.multi()
      .hset(key, { ...set, updatedAt: String(ts) })
      .zadd(k.contactsTouched, ts, contactId)
      .xadd(k.events, '*', ...eventFields('contact.updated', accountId, newUid(), ts, { ...contact, changed }))
      .exec()
    return contact
  }

  return { update }
}

export type ContactUpdater = ReturnType<typeof createContactUpdater>
