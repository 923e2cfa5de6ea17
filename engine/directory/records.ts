// The directory's records as Redis holds them (flat string hashes) and as the protocol shows them:
// pure parsers and the admin-update rule, shared by the directory's parts and its admin writers.
import type { Agent, AgentRole, Availability, Contact, Inbox } from '../protocol.js'

export type NewInbox = { name: string; allowedOrigins: string[]; messagesPerMinute: number; autoAssign: boolean }
export type InboxPatch = Partial<NewInbox>
export type NewAgent = { name: string; role: AgentRole; inboxIds: string[]; maxConversations: number | null }
export type AgentRecord = Omit<Agent, 'online'>
export type ContactPatch = { name?: string; email?: string; phone?: string; customAttributes?: Record<string, unknown> }

export type Hash = Record<string, string>

export function num(v: string | undefined): number | null {
  if (v === undefined || v === '') return null
  const n = Number(v)
  return Number.isFinite(n) ? n : null
}

export function json<T>(v: string | undefined, fallback: T): T {
  if (v === undefined || v === '') return fallback
  try {
    return JSON.parse(v) as T
  } catch {
    return fallback
  }
}

export function inboxFrom(h: Hash): Inbox | null {
  if (h['id'] === undefined || h['accountId'] === undefined) return null
  return {
    id: h['id'],
    accountId: h['accountId'],
    name: h['name'] ?? '',
    websiteToken: h['websiteToken'] ?? '',
    hmacSecret: h['hmacSecret'] ?? '',
    allowedOrigins: json<string[]>(h['allowedOrigins'], []),
    messagesPerMinute: num(h['messagesPerMinute']) ?? 200,
    autoAssign: h['autoAssign'] !== '0',
    createdAt: num(h['createdAt']) ?? 0,
  }
}

export function agentFrom(h: Hash): AgentRecord | null {
  // a removed agent's hash stays (its name labels its past messages) but it is no agent any more
  if (h['id'] === undefined || h['accountId'] === undefined || (h['removedAt'] ?? '') !== '') return null
  return {
    id: h['id'],
    accountId: h['accountId'],
    name: h['name'] ?? '',
    role: h['role'] === 'administrator' ? 'administrator' : 'agent',
    availability: (['online', 'busy', 'offline'].includes(h['availability'] ?? '') ? h['availability'] : 'online') as Availability,
    inboxIds: json<string[]>(h['inboxIds'], []),
    maxConversations: num(h['maxConversations']),
  }
}

export function contactFrom(h: Hash): Contact | null {
  if (h['id'] === undefined || h['accountId'] === undefined) return null
  return {
    id: h['id'],
    accountId: h['accountId'],
    name: h['name'] || null,
    email: h['email'] || null,
    phone: h['phone'] || null,
    identifier: h['identifier'] || null,
    verified: h['verified'] === '1',
    customAttributes: json<Record<string, unknown>>(h['customAttributes'], {}),
    lastSeenAt: num(h['lastSeenAt']),
  }
}

/**
 * `current` with the fields of `patch` that are given, and the names of those that differ from
 * `current` (compared as JSON): an admin update's new record and its `changed` list.
 */
export function applyPatch<T extends object, F extends keyof T & string>(current: T, patch: Partial<Pick<T, F>>, fields: readonly F[]): { next: T; changed: F[] } {
  const next = { ...current }
  for (const f of fields) if (patch[f] !== undefined) next[f] = patch[f] as T[F]
  return { next, changed: fields.filter((f) => JSON.stringify(current[f]) !== JSON.stringify(next[f])) }
}
