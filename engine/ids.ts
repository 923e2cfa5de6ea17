// Ids, bearer tokens and signatures. Ids are random (128 bits) and opaque; bearer tokens are
// `<accountId>.<secret>` so the engine can find the account's partition without a global index,
// and only a SHA-256 of a token is ever stored.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

export type IdKind = 'a' | 'in' | 'ag' | 'ct' | 'cv' | 'wh'

// Ids are not secrets (every access is checked), so their randomness comes from a pool refilled
// 4 KiB at a time: one getrandom call per 256 ids instead of one per id (two ids per message made
// `randomFillSync` 6 % of the engine's CPU). Tokens and secrets below still draw their own bytes.
const POOL_BYTES = 4096
let pool = Buffer.alloc(0)
let offset = 0

function random128(): string {
  if (offset + 16 > pool.length) {
    pool = randomBytes(POOL_BYTES)
    offset = 0
  }
  offset += 16
  return pool.toString('base64url', offset - 16, offset)
}

export function newId(kind: IdKind): string {
  return `${kind}_${random128()}`
}

/** A unique key minted when a change is accepted: the archive's idempotency key. */
export function newUid(): string {
  return random128()
}

const ID_RE = /^(a|in|ag|ct|cv|wh)_[A-Za-z0-9_-]{22}$/

export function isId(value: unknown, kind: IdKind): value is string {
  return typeof value === 'string' && ID_RE.test(value) && value.startsWith(`${kind}_`)
}

/** A bearer token bound to an account: 192 random bits after the account id. */
export function newToken(accountId: string): string {
  return `${accountId}.${randomBytes(24).toString('base64url')}`
}

export function newSecret(): string {
  return randomBytes(32).toString('hex')
}

/** The account a token claims (unverified until its hash is found in that account's partition). */
export function tokenAccount(token: string): string | null {
  const dot = token.indexOf('.')
  if (dot <= 0 || token.length > 200) return null
  const accountId = token.slice(0, dot)
  return isId(accountId, 'a') ? accountId : null
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/** Constant-time comparison of two strings (false for different lengths without early exit on content). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a)
  const bb = Buffer.from(b)
  if (ab.length !== bb.length) {
    timingSafeEqual(ab, ab)
    return false
  }
  return timingSafeEqual(ab, bb)
}

/** identifier_hash = hex(HMAC-SHA256(inbox.hmacSecret, identifier)), compared in constant time. */
export function verifyIdentifierHash(hmacSecret: string, identifier: string, hash: string): boolean {
  const expected = createHmac('sha256', hmacSecret).update(identifier).digest('hex')
  return safeEqual(expected, hash.toLowerCase())
}

// A widget session names a contact and is signed with a key derived from the inbox's secret, so
// any engine node can verify it without shared state: `<contactId>.<base64url hmac>`.
function sessionSignature(hmacSecret: string, inboxId: string, contactId: string): string {
  const key = createHmac('sha256', hmacSecret).update('parley-session-v1').digest()
  return createHmac('sha256', key).update(`${inboxId}:${contactId}`).digest('base64url')
}

export function signSession(hmacSecret: string, inboxId: string, contactId: string): string {
  return `${contactId}.${sessionSignature(hmacSecret, inboxId, contactId)}`
}

/** The contact id a session names, or null when it is malformed or forged. */
export function verifySession(hmacSecret: string, inboxId: string, session: string): string | null {
  const dot = session.lastIndexOf('.')
  if (dot <= 0) return null
  const contactId = session.slice(0, dot)
  if (!isId(contactId, 'ct')) return null
  return safeEqual(sessionSignature(hmacSecret, inboxId, contactId), session.slice(dot + 1)) ? contactId : null
}
