// Contacts: created per inbox connection (one per identifier: first writer wins), found by id or
// identifier, and touched on every read (eviction's idle index); an evicted contact is restored
// from the archive on first use.
import { createContactCall } from '../../lua/scripts.js'
import { newId, newUid } from '../ids.js'
import type { Contact } from '../protocol.js'
import type { DirectoryContext } from './context.js'
import { contactFrom, type Hash } from './records.js'

export function createContactDirectory(ctx: DirectoryContext) {
  const { redis, keysOf, now } = ctx

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
    if (h['id'] !== undefined || ctx.restoreContact === undefined) return h
    return (await ctx.restoreContact(accountId, contactId)) ? read() : h
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
    // one script, not a MULTI: during a slot migration it waits for the move instead of failing
    const reply = await ctx.scripts.run(createContactCall(k, {
      contactId: contact.id, accountId, uid: newUid(), now: ts, event: { ...contact, inboxId },
      fields: { id: contact.id, accountId, identifier: identifier ?? '', verified: contact.verified ? '1' : '0', inboxId, createdAt: String(ts) },
    }))
    if (reply[0] !== 1) throw new Error(`contact id ${contact.id} already taken`)
    return contact
  }

  async function findContactByIdentifier(accountId: string, identifier: string): Promise<Contact | null> {
    // an evicted contact keeps its identifier mapping: getContact restores it by id
    const id = await redis.hget(keysOf(accountId).accountIdentifiers(accountId), identifier)
    return id === null ? null : getContact(accountId, id)
  }

  return { contactHash, getContact, createContact, findContactByIdentifier }
}
