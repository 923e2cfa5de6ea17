// The configuration rows: accounts, inboxes (+ auto-resolve setting), agents (+ availability,
// inbox_members), contacts (+ contact_inboxes, last seen). Upserts, parents first. Several
// archivers share a partition, so a child may be committed before its parent: a placeholder
// parent row is inserted (`on conflict do nothing`) and the parent's own event fills it in later.
import type { Projection } from '../project.js';
import { add, j, uniq, type Counts, type Tx } from './common.js';

export async function writeDirectory(tx: Tx, p: Projection): Promise<Counts> {
  const counts: Counts = {};
  if (p.accounts.length > 0) {
    const r = await tx`
      insert into accounts ${tx(p.accounts, 'id', 'name', 'created_at')}
      on conflict (id) do update set name = excluded.name, created_at = excluded.created_at`;
    add(counts, 'accounts', r.count);
  }
  const known = new Set(p.accounts.map((a) => a.id));
  const accountStubs = uniq(
    [...p.inboxes, ...p.agents, ...p.contacts, ...p.inboxMembers, ...p.contactInboxes, ...p.inboxSettings, ...p.inboxProfiles,
      ...p.agentProfiles, ...p.agentRemovals, ...p.inboxHours].map((r) => r.account_id),
  ).filter((id) => !known.has(id));
  if (accountStubs.length > 0) {
    await tx`insert into accounts ${tx(accountStubs.map((id) => ({ id, name: '' })), 'id', 'name')} on conflict (id) do nothing`;
  }

  if (p.inboxes.length > 0) {
    const rows = p.inboxes.map((r) => ({ ...r, allowed_origins: j(tx, r.allowed_origins) }));
    const r = await tx`
      insert into inboxes ${tx(rows, 'id', 'account_id', 'name', 'website_token', 'allowed_origins', 'messages_per_minute',
        'auto_assign', 'created_at', 'updated_at')}
      on conflict (id) do update set
        account_id = excluded.account_id, website_token = excluded.website_token,
        created_at = excluded.created_at, updated_at = excluded.updated_at,
        -- an admin's change committed first (another archiver) is newer than the creation
        name = case when inboxes.profile_updated_at is null or inboxes.profile_updated_at < excluded.updated_at then excluded.name else inboxes.name end,
        allowed_origins = case when inboxes.profile_updated_at is null or inboxes.profile_updated_at < excluded.updated_at then excluded.allowed_origins else inboxes.allowed_origins end,
        messages_per_minute = case when inboxes.profile_updated_at is null or inboxes.profile_updated_at < excluded.updated_at then excluded.messages_per_minute else inboxes.messages_per_minute end,
        auto_assign = case when inboxes.profile_updated_at is null or inboxes.profile_updated_at < excluded.updated_at then excluded.auto_assign else inboxes.auto_assign end`;
    add(counts, 'inboxes', r.count);
  }
  const inboxIds = new Set(p.inboxes.map((i) => i.id));
  const inboxStubs = new Map<string, string>();
  for (const r of [...p.inboxMembers, ...p.contactInboxes]) if (!inboxIds.has(r.inbox_id)) inboxStubs.set(r.inbox_id, r.account_id);
  for (const r of [...p.inboxSettings, ...p.inboxProfiles, ...p.inboxHours]) if (!inboxIds.has(r.id)) inboxStubs.set(r.id, r.account_id);
  for (const r of p.agentProfiles) for (const id of r.inbox_ids) if (!inboxIds.has(id)) inboxStubs.set(id, r.account_id);
  if (inboxStubs.size > 0) {
    const stubs = [...inboxStubs].sort().map(([id, account_id]) => ({ id, account_id, name: '', website_token: `~placeholder:${id}` }));
    await tx`insert into inboxes ${tx(stubs, 'id', 'account_id', 'name', 'website_token')} on conflict (id) do nothing`;
  }
  if (p.inboxHours.length > 0) {
    const r = await tx`
      update inboxes set business_hours = v.hours, business_hours_set_at = v.at
        from unnest(${tx.array(p.inboxHours.map((s) => s.id))}::text[],
                    ${tx.array(p.inboxHours.map((s) => (s.business_hours === null ? null : JSON.stringify(s.business_hours))) as string[])}::jsonb[],
                    ${tx.array(p.inboxHours.map((s) => s.set_at.toISOString()))}::timestamptz[]) as v(id, hours, at)
       where inboxes.id = v.id and (inboxes.business_hours_set_at is null or inboxes.business_hours_set_at <= v.at)`;
    add(counts, 'inboxes', r.count);
  }
  if (p.inboxSettings.length > 0) {
    const r = await tx`
      update inboxes set auto_resolve_after_ms = v.ms, auto_resolve_set_at = v.at
        from unnest(${tx.array(p.inboxSettings.map((s) => s.id))}::text[],
                    ${tx.array(p.inboxSettings.map((s) => (s.auto_resolve_after_ms === null ? null : String(s.auto_resolve_after_ms))) as string[])}::bigint[],
                    ${tx.array(p.inboxSettings.map((s) => s.set_at.toISOString()))}::timestamptz[]) as v(id, ms, at)
       where inboxes.id = v.id and (inboxes.auto_resolve_set_at is null or inboxes.auto_resolve_set_at <= v.at)`;
    add(counts, 'inboxes', r.count);
  }

  for (const r of p.inboxProfiles) {
    const u = await tx`
      update inboxes set name = ${r.name}, allowed_origins = ${j(tx, r.allowed_origins)}, messages_per_minute = ${r.messages_per_minute},
                         auto_assign = ${r.auto_assign}, profile_updated_at = ${r.at}
       where id = ${r.id} and (profile_updated_at is null or profile_updated_at <= ${r.at})`;
    add(counts, 'inboxes', u.count);
  }

  if (p.agents.length > 0) {
    const r = await tx`
      insert into agents ${tx(p.agents, 'id', 'account_id', 'name', 'role', 'max_conversations', 'availability', 'created_at',
        'updated_at')}
      on conflict (id) do update set
        account_id = excluded.account_id, created_at = excluded.created_at,
        name = case when agents.profile_updated_at is null or agents.profile_updated_at < excluded.updated_at then excluded.name else agents.name end,
        role = case when agents.profile_updated_at is null or agents.profile_updated_at < excluded.updated_at then excluded.role else agents.role end,
        max_conversations = case when agents.profile_updated_at is null or agents.profile_updated_at < excluded.updated_at then excluded.max_conversations else agents.max_conversations end,
        availability = case when agents.updated_at <= excluded.updated_at then excluded.availability else agents.availability end,
        updated_at = greatest(agents.updated_at, excluded.updated_at)`;
    add(counts, 'agents', r.count);
  }
  const agentIds = new Set(p.agents.map((a) => a.id));
  const agentStubs = new Map<string, string>();
  for (const r of p.inboxMembers) if (!agentIds.has(r.agent_id)) agentStubs.set(r.agent_id, r.account_id);
  for (const r of [...p.agentAvailability, ...p.agentProfiles, ...p.agentRemovals]) if (!agentIds.has(r.id)) agentStubs.set(r.id, r.account_id);
  if (agentStubs.size > 0) {
    // updated_at at the epoch: the agent's own events, whenever they come, are newer
    const stubs = [...agentStubs].sort().map(([id, account_id]) => ({ id, account_id, name: '', updated_at: new Date(0) }));
    await tx`insert into agents ${tx(stubs, 'id', 'account_id', 'name', 'updated_at')} on conflict (id) do nothing`;
  }
  if (p.agentAvailability.length > 0) {
    const r = await tx`
      update agents set availability = v.availability, updated_at = v.at
        from unnest(${tx.array(p.agentAvailability.map((a) => a.id))}::text[],
                    ${tx.array(p.agentAvailability.map((a) => a.availability))}::text[],
                    ${tx.array(p.agentAvailability.map((a) => a.updated_at.toISOString()))}::timestamptz[]) as v(id, availability, at)
       where agents.id = v.id and agents.updated_at <= v.at`;
    add(counts, 'agents', r.count);
  }

  // an admin's change: the profile, and the memberships as the event lists them (unless removed meanwhile)
  for (const r of p.agentProfiles) {
    const [row] = await tx`
      update agents set name = ${r.name}, role = ${r.role}, max_conversations = ${r.max_conversations}, profile_updated_at = ${r.at}
       where id = ${r.id} and removed_at is null and (profile_updated_at is null or profile_updated_at <= ${r.at})
       returning id`;
    if (row === undefined) continue;
    add(counts, 'agents', 1);
    await tx`delete from inbox_members where agent_id = ${r.id} and inbox_id <> all(${tx.array(r.inbox_ids, 25)}::text[])`;
    if (r.inbox_ids.length > 0) {
      const m = await tx`
        insert into inbox_members (inbox_id, agent_id, created_at)
        select unnest(${tx.array(r.inbox_ids, 25)}::text[]), ${r.id}, ${r.at}
        on conflict (inbox_id, agent_id) do nothing`;
      add(counts, 'inbox_members', m.count);
    }
  }
  for (const r of p.agentRemovals) {
    const u = await tx`update agents set removed_at = ${r.at} where id = ${r.id} and removed_at is null`;
    add(counts, 'agents', u.count);
    await tx`delete from inbox_members where agent_id = ${r.id}`;
  }

  if (p.contacts.length > 0) {
    const rows = p.contacts.map((r) => ({ ...r, custom_attributes: j(tx, r.custom_attributes) }));
    const r = await tx`
      insert into contacts ${tx(rows, 'id', 'account_id', 'name', 'email', 'phone', 'identifier', 'verified',
        'custom_attributes', 'last_seen_at', 'created_at', 'updated_at')}
      on conflict (id) do update set
        account_id = excluded.account_id, name = excluded.name, email = excluded.email, phone = excluded.phone,
        identifier = excluded.identifier, verified = excluded.verified, custom_attributes = excluded.custom_attributes,
        last_seen_at = greatest(contacts.last_seen_at, excluded.last_seen_at),
        created_at = least(contacts.created_at, excluded.created_at), updated_at = excluded.updated_at
      where contacts.updated_at <= excluded.updated_at`;
    add(counts, 'contacts', r.count);
  }
  if (p.inboxMembers.length > 0) {
    // a creation's memberships, unless the agent was changed or removed since (committed first)
    const r = await tx`
      insert into inbox_members (inbox_id, agent_id, created_at)
      select v.inbox_id, v.agent_id, v.created_at
        from unnest(${tx.array(p.inboxMembers.map((m) => m.inbox_id), 25)}::text[],
                    ${tx.array(p.inboxMembers.map((m) => m.agent_id), 25)}::text[],
                    ${tx.array(p.inboxMembers.map((m) => m.created_at.toISOString()), 25)}::timestamptz[]) as v(inbox_id, agent_id, created_at)
        join agents a on a.id = v.agent_id
       where a.removed_at is null and (a.profile_updated_at is null or a.profile_updated_at < v.created_at)
      on conflict (inbox_id, agent_id) do nothing`;
    add(counts, 'inbox_members', r.count);
  }
  if (p.contactInboxes.length > 0) {
    const r = await tx`
      insert into contact_inboxes ${tx(p.contactInboxes, 'contact_id', 'inbox_id', 'hmac_verified', 'created_at')}
      on conflict (contact_id, inbox_id) do nothing`;
    add(counts, 'contact_inboxes', r.count);
  }
  if (p.contactSeen.length > 0) {
    const r = await tx`
      update contacts set last_seen_at = v.seen_at
        from unnest(${tx.array(p.contactSeen.map((s) => s.contact_id))}::text[],
                    ${tx.array(p.contactSeen.map((s) => s.seen_at.toISOString()))}::timestamptz[]) as v(id, seen_at)
       where contacts.id = v.id and (contacts.last_seen_at is null or contacts.last_seen_at < v.seen_at)`;
    add(counts, 'contacts', r.count);
  }
  return counts;
}
