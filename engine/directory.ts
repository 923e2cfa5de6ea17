// Accounts, inboxes, agents and contacts: their live source of truth is Redis (keys from
// lua/keys.ts); every change is written together with its event on the partition stream, in one
// MULTI, so the archiver sees exactly what was written.
import { publishMethod, type RedisClient as Redis } from '../lua/client.js'
import { eventFields } from '../lua/codec.js'
import { keysFor, partitionOf } from '../lua/keys.js'
import { controlNotice, INBOX_CONTROL } from './control.js'
import { newId, newSecret, newToken, newUid, sha256, tokenAccount } from './ids.js'
import type { Account, Agent, AgentRole, Availability, Contact, Inbox } from './protocol.js'

export type NewInbox = { name: string; allowedOrigins: string[]; messagesPerMinute: number; autoAssign: boolean }
export type InboxPatch = Partial<NewInbox>
export type NewAgent = { name: string; role: AgentRole; inboxIds: string[]; maxConversations: number | null }
export type AgentRecord = Omit<Agent, 'online'>
export type ContactPatch = { name?: string; email?: string; phone?: string; customAttributes?: Record<string, unknown> }

type Hash = Record<string, string>

function num(v: string | undefined): number | null {
  if (v === undefined || v === '') return null
  const n = Number(v)
  return Number.isFinite(n) ? n : null
}

function json<T>(v: string | undefined, fallback: T): T {
  if (v === undefined || v === '') return fallback
  try {
    return JSON.parse(v) as T
  } catch {
    return fallback
  }
}

function inboxFrom(h: Hash): Inbox | null {
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

function agentFrom(h: Hash): AgentRecord | null {
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

/** How a missing contact is looked for in the archive (engine/rehydrate.ts restoreContact). */
export type RestoreContact = (accountId: string, contactId: string) => Promise<boolean>

/**
 * `current` with the fields of `patch` that are given, and the names of those that differ from
 * `current` (compared as JSON): an admin update's new record and its `changed` list.
 */
export function applyPatch<T extends object, F extends keyof T & string>(current: T, patch: Partial<Pick<T, F>>, fields: readonly F[]): { next: T; changed: F[] } {
  const next = { ...current }
  for (const f of fields) if (patch[f] !== undefined) next[f] = patch[f] as T[F]
  return { next, changed: fields.filter((f) => JSON.stringify(current[f]) !== JSON.stringify(next[f])) }
}

export function createDirectory(deps: {
  redis: Redis; partitions: number; now?: () => number
  /** brings a contact evicted from Redis back from PostgreSQL (engine/eviction.ts); absent = no archive */
  restoreContact?: RestoreContact
}) {
  const { redis, partitions } = deps
  const now = deps.now ?? Date.now
  const keysOf = (accountId: string) => keysFor(partitionOf(accountId, partitions))

  async function getAccount(accountId: string): Promise<Account | null> {
    const h = await redis.hgetall(keysOf(accountId).account(accountId))
    if (h['id'] === undefined) return null
    return { id: h['id'], name: h['name'] ?? '', createdAt: num(h['createdAt']) ?? 0 }
  }

  async function createAccount(name: string): Promise<Account> {
    const account: Account = { id: newId('a'), name, createdAt: now() }
    const k = keysOf(account.id)
    await redis.multi()
      .hset(k.account(account.id), { id: account.id, name, createdAt: String(account.createdAt) })
      .xadd(k.events, '*', ...eventFields('account.created', account.id, newUid(), account.createdAt, account))
      .exec()
    return account
  }

  async function getInbox(accountId: string, inboxId: string): Promise<Inbox | null> {
    const inbox = inboxFrom(await redis.hgetall(keysOf(accountId).inbox(inboxId)))
    return inbox !== null && inbox.accountId === accountId ? inbox : null
  }

  async function createInbox(accountId: string, input: NewInbox): Promise<{ inbox: Inbox; apiToken: string }> {
    const inbox: Inbox = {
      id: newId('in'),
      accountId,
      name: input.name,
      websiteToken: newToken(accountId),
      hmacSecret: newSecret(),
      allowedOrigins: input.allowedOrigins,
      messagesPerMinute: input.messagesPerMinute,
      autoAssign: input.autoAssign,
      createdAt: now(),
    }
    const apiToken = newToken(accountId)
    const k = keysOf(accountId)
    const { allowedOrigins, ...rest } = inbox
    const record: Hash = {
      ...Object.fromEntries(Object.entries(rest).map(([f, v]) => [f, typeof v === 'boolean' ? (v ? '1' : '0') : String(v)])),
      allowedOrigins: JSON.stringify(allowedOrigins),
      apiTokenHash: sha256(apiToken),
    }
    const { hmacSecret: _secret, ...archived } = inbox
    await redis.multi()
      .hset(k.inbox(inbox.id), record)
      .sadd(k.accountInboxes(accountId), inbox.id)
      .hset(k.websites, inbox.websiteToken, inbox.id)
      .hset(k.tokens, sha256(apiToken), `api:${inbox.id}`)
      .xadd(k.events, '*', ...eventFields('inbox.created', accountId, newUid(), inbox.createdAt, archived))
      [publishMethod(redis)](k.fanout, controlNotice(INBOX_CONTROL, accountId, { inboxId: inbox.id }))
      .exec()
    return { inbox, apiToken }
  }

  /** Changes an inbox's settings; null when it is not an inbox of the account. */
  async function updateInbox(accountId: string, inboxId: string, patch: InboxPatch): Promise<{ inbox: Inbox; changed: string[] } | null> {
    const current = await getInbox(accountId, inboxId)
    if (current === null) return null
    const { next, changed } = applyPatch(current, patch, ['name', 'allowedOrigins', 'messagesPerMinute', 'autoAssign'])
    if (changed.length === 0) return { inbox: current, changed }
    const k = keysOf(accountId)
    const ts = now()
    const { hmacSecret: _secret, ...archived } = next
    await redis.multi()
      .hset(k.inbox(inboxId), {
        name: next.name, allowedOrigins: JSON.stringify(next.allowedOrigins), messagesPerMinute: String(next.messagesPerMinute),
        autoAssign: next.autoAssign ? '1' : '0', updatedAt: String(ts),
      })
      .xadd(k.events, '*', ...eventFields('inbox.updated', accountId, newUid(), ts, { ...archived, changed }))
      .exec()
    return { inbox: next, changed }
  }

  async function accountInboxIds(accountId: string): Promise<string[]> {
    return redis.smembers(keysOf(accountId).accountInboxes(accountId))
  }

  /** The inboxes whose conversations an agent sees: an administrator's are all of the account's. */
  async function visibleInboxIds(agent: AgentRecord): Promise<string[]> {
    return agent.role === 'administrator' ? accountInboxIds(agent.accountId) : agent.inboxIds
  }

  async function getAgent(accountId: string, agentId: string): Promise<AgentRecord | null> {
    const agent = agentFrom(await redis.hgetall(keysOf(accountId).agent(agentId)))
    return agent !== null && agent.accountId === accountId ? agent : null
  }

  async function listAgents(accountId: string): Promise<AgentRecord[]> {
    const k = keysOf(accountId)
    const ids = await redis.smembers(k.accountAgents(accountId))
    if (ids.length === 0) return []
    const pipe = redis.pipeline()
    for (const id of ids) pipe.hgetall(k.agent(id))
    const rows = (await pipe.exec()) ?? []
    return rows.map(([, h]) => agentFrom(h as Hash)).filter((a): a is AgentRecord => a !== null)
  }

  async function createAgent(accountId: string, input: NewAgent): Promise<{ agent: AgentRecord; token: string }> {
    const agent: AgentRecord = {
      id: newId('ag'),
      accountId,
      name: input.name,
      role: input.role,
      availability: 'online',
      inboxIds: input.inboxIds,
      maxConversations: input.maxConversations,
    }
    const token = newToken(accountId)
    const k = keysOf(accountId)
    const multi = redis.multi()
      .hset(k.agent(agent.id), {
        id: agent.id, accountId, name: agent.name, role: agent.role, availability: agent.availability,
        inboxIds: JSON.stringify(agent.inboxIds), maxConversations: agent.maxConversations === null ? '' : String(agent.maxConversations),
        createdAt: String(now()),
      })
      .sadd(k.accountAgents(accountId), agent.id)
      .hset(k.tokens, sha256(token), `agent:${agent.id}`)
      .hset(k.availability(accountId), agent.id, agent.availability)
    for (const inboxId of agent.inboxIds) multi.sadd(k.inboxAgents(inboxId), agent.id)
    multi.xadd(k.events, '*', ...eventFields('agent.created', accountId, newUid(), now(), agent))
    await multi.exec()
    return { agent, token }
  }

  /** The account and owner id of a bearer token of one kind ("agent" or "api"), or null. */
  async function tokenOwner(token: string, kind: 'agent' | 'api'): Promise<{ accountId: string; id: string } | null> {
    const accountId = tokenAccount(token)
    if (accountId === null) return null
    const owner = await redis.hget(keysOf(accountId).tokens, sha256(token))
    return owner !== null && owner.startsWith(`${kind}:`) ? { accountId, id: owner.slice(kind.length + 1) } : null
  }

  /** The agent a bearer token belongs to, or null. */
  async function findAgentByToken(token: string): Promise<AgentRecord | null> {
    const owner = await tokenOwner(token, 'agent')
    return owner === null ? null : getAgent(owner.accountId, owner.id)
  }

  async function findInboxByApiToken(token: string): Promise<Inbox | null> {
    const owner = await tokenOwner(token, 'api')
    return owner === null ? null : getInbox(owner.accountId, owner.id)
  }

  async function findInboxByWebsiteToken(websiteToken: string): Promise<Inbox | null> {
    const accountId = tokenAccount(websiteToken)
    if (accountId === null) return null
    const inboxId = await redis.hget(keysOf(accountId).websites, websiteToken)
    return inboxId === null ? null : getInbox(accountId, inboxId)
  }

  /**
   * A contact's hash, touched (its idle time restarts: eviction's index) and, when it was evicted,
   * restored from the archive first. {} when there is no such contact.
   */
  async function contactHash(accountId: string, contactId: string): Promise<Hash> {
    const k = keysOf(accountId)
    const read = async () => {
      // one MULTI: an eviction cannot fall between the read and the touch
      const [[, h] = []] = (await redis.multi().hgetall(k.contact(contactId)).zadd(k.contactsTouched, 'GT', now(), contactId).exec()) ?? []
      return (h ?? {}) as Hash
    }
    const h = await read()
    if (h['id'] !== undefined || deps.restoreContact === undefined) return h
    return (await deps.restoreContact(accountId, contactId)) ? read() : h
  }

  async function getContact(accountId: string, contactId: string): Promise<Contact | null> {
    const contact = contactFrom(await contactHash(accountId, contactId))
    return contact !== null && contact.accountId === accountId ? contact : null
  }

  async function createContact(accountId: string, inboxId: string, identifier: string | null): Promise<Contact> {
    const k = keysOf(accountId)
    const contact: Contact = {
      id: newId('ct'), accountId, name: null, email: null, phone: null, identifier, verified: identifier !== null,
      customAttributes: {}, lastSeenAt: null,
    }
    if (identifier !== null) {
      // first writer wins: two connections racing with one identifier end on one contact
      const won = await redis.hsetnx(k.accountIdentifiers(accountId), identifier, contact.id)
      if (won === 0) {
        const existing = await redis.hget(k.accountIdentifiers(accountId), identifier)
        const found = existing === null ? null : await getContact(accountId, existing)
        if (found !== null) return found
        await redis.hset(k.accountIdentifiers(accountId), identifier, contact.id)
      }
    }
    const ts = now()
    await redis.multi()
      .hset(k.contact(contact.id), {
        id: contact.id, accountId, identifier: identifier ?? '', verified: contact.verified ? '1' : '0', inboxId, createdAt: String(ts),
      })
      .zadd(k.contactsTouched, ts, contact.id)
      .xadd(k.events, '*', ...eventFields('contact.created', accountId, newUid(), ts, { ...contact, inboxId }))
      .exec()
    return contact
  }

  async function findContactByIdentifier(accountId: string, identifier: string): Promise<Contact | null> {
    // an evicted contact keeps its identifier mapping: getContact restores it by id
    const id = await redis.hget(keysOf(accountId).accountIdentifiers(accountId), identifier)
    return id === null ? null : getContact(accountId, id)
  }

  async function inboxAgentIds(accountId: string, inboxId: string): Promise<string[]> {
    return redis.smembers(keysOf(accountId).inboxAgents(inboxId))
  }

  return {
    keysOf, getAccount, createAccount, getInbox, createInbox, updateInbox, accountInboxIds, visibleInboxIds, getAgent, listAgents, createAgent,
    findAgentByToken, findInboxByApiToken, findInboxByWebsiteToken, contactHash, getContact, createContact,
    findContactByIdentifier, inboxAgentIds,
  }
}

export type Directory = ReturnType<typeof createDirectory>
