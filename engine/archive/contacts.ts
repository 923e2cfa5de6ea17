// Archived contacts as the engine needs them for retention (engine/eviction.ts checks a contact's
// row before evicting it; engine/rehydrate.ts writes it back): the row, its first inbox, and the
// contact hash exactly as engine/directory/ (contacts.ts, contact-update.ts) writes it.
import type { Sql } from 'postgres'
import type { Contact } from '../protocol.js'
import { object } from './conversations.js'

export type ArchivedContactRow = {
  id: string; account_id: string; name: string | null; email: string | null; phone: string | null
  identifier: string | null; verified: boolean; custom_attributes: unknown; created_at: Date; updated_at: Date
  /** the inbox it was first seen through (contact_inboxes), null if none archived */
  inbox_id: string | null
}

function columns(sql: Sql) {
  return sql`
    c.id, c.account_id, c.name, c.email, c.phone, c.identifier, c.verified, c.custom_attributes, c.created_at, c.updated_at,
    (select ci.inbox_id from contact_inboxes ci where ci.contact_id = c.id order by ci.created_at, ci.inbox_id limit 1) as inbox_id`
}

/** Archived contacts by id (of one account, or of any when accountId is null). */
export async function archivedContacts(sql: Sql, accountId: string | null, ids: readonly string[]): Promise<ArchivedContactRow[]> {
  if (ids.length === 0) return []
  return sql<ArchivedContactRow[]>`
    select ${columns(sql)} from contacts c
     where c.id = any(${ids as string[]}) ${accountId === null ? sql`` : sql`and c.account_id = ${accountId}`}`
}

/** The protocol's Contact from an archived row (directory/records.ts contactFrom's twin; lastSeenAt is not live state). */
export function contactFromRow(r: ArchivedContactRow): Contact {
  return {
    id: r.id, accountId: r.account_id, name: r.name, email: r.email, phone: r.phone, identifier: r.identifier,
    verified: r.verified, customAttributes: object(r.custom_attributes), lastSeenAt: null,
  }
}

/** The contact hash for an archived row: what createContact and contact updates write, no empty fields. */
export function contactHashFromRow(r: ArchivedContactRow, extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = {
    id: r.id, accountId: r.account_id, identifier: r.identifier ?? '', verified: r.verified ? '1' : '0',
    createdAt: String(r.created_at.getTime()), updatedAt: String(r.updated_at.getTime()),
  }
  if (r.inbox_id !== null) h['inboxId'] = r.inbox_id
  for (const [f, v] of [['name', r.name], ['email', r.email], ['phone', r.phone]] as const) if (v !== null && v !== '') h[f] = v
  const attrs = object(r.custom_attributes)
  if (Object.keys(attrs).length > 0) h['customAttributes'] = JSON.stringify(attrs)
  return { ...h, ...extra }
}
