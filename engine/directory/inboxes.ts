// Accounts and inboxes: created and changed with their partition event in one MULTI; found by id,
// by website token (widgets) and by API token (the API channel).
import { publishMethod } from '../../lua/client.js'
import { eventFields } from '../../lua/codec.js'
import { controlNotice, INBOX_CONTROL } from '../control.js'
import { newId, newSecret, newToken, newUid, sha256, tokenAccount } from '../ids.js'
import type { Account, Inbox } from '../protocol.js'
import { tokenOwner, type DirectoryContext } from './context.js'
import { applyPatch, inboxFrom, num, type Hash, type InboxPatch, type NewInbox } from './records.js'

export function createInboxDirectory(ctx: DirectoryContext) {
  const { redis, keysOf, now } = ctx

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

  async function findInboxByApiToken(token: string): Promise<Inbox | null> {
    const owner = await tokenOwner(ctx, token, 'api')
    return owner === null ? null : getInbox(owner.accountId, owner.id)
  }

  async function findInboxByWebsiteToken(websiteToken: string): Promise<Inbox | null> {
    const accountId = tokenAccount(websiteToken)
    if (accountId === null) return null
    const inboxId = await redis.hget(keysOf(accountId).websites, websiteToken)
    return inboxId === null ? null : getInbox(accountId, inboxId)
  }

  return { getAccount, createAccount, getInbox, createInbox, updateInbox, accountInboxIds, findInboxByApiToken, findInboxByWebsiteToken }
}
