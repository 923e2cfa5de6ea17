// An outgoing webhook's definition as Redis holds it (hash at keys.ts `webhook(id)`), shared by
// the engine (which writes it through the admin API) and the dispatcher (archiver/webhooks/, which
// reads it to filter and sign, and deactivates a webhook whose endpoint answered 410). Like
// codec.ts, this is the data format both sides of the house agree on; nothing here touches Redis.

/** Event names (Chatwoot's). The typing pair is delivered only to a webhook that lists it. */
export const WEBHOOK_EVENTS = [
  'conversation_created', 'conversation_status_changed', 'conversation_updated', 'message_created', 'message_updated',
  'contact_created', 'contact_updated', 'csat_submitted', 'conversation_typing_on', 'conversation_typing_off',
] as const
export type WebhookEventName = (typeof WEBHOOK_EVENTS)[number]

/** What `events` absent (null) subscribes to: everything but typing. */
export const DEFAULT_WEBHOOK_EVENTS: readonly WebhookEventName[] = WEBHOOK_EVENTS.filter((e) => !e.startsWith('conversation_typing'))

export type WebhookDef = {
  id: string
  accountId: string
  url: string
  /** null = every event but typing (and any event added later) */
  events: WebhookEventName[] | null
  /** null = every inbox of the account */
  inboxIds: string[] | null
  includePrivate: boolean
  active: boolean
  /** why it was deactivated by the dispatcher (410), null otherwise */
  deactivatedReason: string | null
  secret: string
  /** the secret before the last rotation, still signing until previousSecretExpiresAt */
  previousSecret: string | null
  previousSecretExpiresAt: number | null
  createdAt: number
  updatedAt: number
}

type Hash = Record<string, string>

export function webhookHash(w: WebhookDef): Hash {
  return {
    id: w.id, accountId: w.accountId, url: w.url,
    events: w.events === null ? '' : JSON.stringify(w.events),
    inboxIds: w.inboxIds === null ? '' : JSON.stringify(w.inboxIds),
    includePrivate: w.includePrivate ? '1' : '0', active: w.active ? '1' : '0',
    deactivatedReason: w.deactivatedReason ?? '',
    secret: w.secret, previousSecret: w.previousSecret ?? '',
    previousSecretExpiresAt: w.previousSecretExpiresAt === null ? '' : String(w.previousSecretExpiresAt),
    createdAt: String(w.createdAt), updatedAt: String(w.updatedAt),
  }
}

function list(v: string | undefined): string[] | null {
  if (v === undefined || v === '') return null
  try {
    const parsed: unknown = JSON.parse(v)
    return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : null
  } catch {
    return null
  }
}

const num = (v: string | undefined): number | null => (v === undefined || v === '' || !Number.isFinite(Number(v)) ? null : Number(v))

/** The definition from its hash; null when the hash is missing or not a webhook's. */
export function webhookFrom(h: Hash): WebhookDef | null {
  if (!h['id'] || !h['accountId'] || !h['url'] || !h['secret']) return null
  const events = list(h['events'])
  return {
    id: h['id'], accountId: h['accountId'], url: h['url'],
    events: events === null ? null : events.filter((e): e is WebhookEventName => (WEBHOOK_EVENTS as readonly string[]).includes(e)),
    inboxIds: list(h['inboxIds']),
    includePrivate: h['includePrivate'] === '1', active: h['active'] !== '0',
    deactivatedReason: h['deactivatedReason'] || null,
    secret: h['secret'], previousSecret: h['previousSecret'] || null,
    previousSecretExpiresAt: num(h['previousSecretExpiresAt']),
    createdAt: num(h['createdAt']) ?? 0, updatedAt: num(h['updatedAt']) ?? 0,
  }
}

/** The definition without its secrets: what goes on the partition stream and to the archive. */
export function webhookPublic(w: WebhookDef) {
  const { secret: _s, previousSecret: _p, ...rest } = w
  return rest
}

/** The secrets that sign now: the current one, and the previous one during its overlap window. */
export function signingSecrets(w: WebhookDef, now: number): string[] {
  const out = [w.secret]
  if (w.previousSecret !== null && w.previousSecretExpiresAt !== null && now < w.previousSecretExpiresAt) out.push(w.previousSecret)
  return out
}
