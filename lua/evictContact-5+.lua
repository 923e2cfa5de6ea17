-- evictContact: removes an idle contact from Redis once PostgreSQL holds it exactly (DESIGN.md
-- "Redis holds what is live"). The caller (engine/eviction.ts) read the hash, checked the archived
-- row against it and passes the hash as read: any change since (a profile update, a rehydration)
-- refuses. A contact with a current (open, pending, snoozed) conversation in any inbox of its
-- account stays, however idle. Rehydration (rehydrateContact) brings it back on the next touch.
-- The identifier mapping stays (a few dozen bytes): a known identifier finds its contact id, so the
-- archive is asked only for contacts that were evicted, and a new identifier never waits on it.
-- KEYS[1] hash    contact
-- KEYS[2] zset    partition contacts-touched index (contactId -> last touch ms)
-- KEYS[3] hash    account identifiers (identifier -> contactId): kept, not written
-- KEYS[4] set     account inbox ids
-- KEYS[5] stream  partition events
-- KEYS[6..]       a variable tail: the contact's pointer <tag>:contact:<id>:inbox:<inboxId>:conv in every
--                 inbox of the account, as the caller last knew them (lua/scripts.ts DeclaredHint
--                 `accountInboxes`); not all declared: { -9, hintJSON } naming them, nothing written. A pointer
--                 that does not exist makes it wait for the end of a slot migration (TRYAGAIN).
-- ARGV[1] msgpack { id, cutoff (the last touch must be below it), expected (field -> value), now, uid }
-- Derived keys: none undeclared.
-- Reply: { 1, '' } evicted | { 2, reason } kept: 'missing' (index entry dropped), 'recent', 'changed', 'active'
--        | { -9, hintJSON } the pointers declared are not those of the account's inboxes
-- Emits contact.evicted { contactId, identifier } (the archiver acknowledges it; the row stays).
local a = cmsgpack.unpack(ARGV[1])
local h = hgetall(KEYS[1])
if h.id == nil then
  rcall('ZREM', KEYS[2], a.id)
  return { 2, 'missing' }
end
local touched = tonumber(rcall('ZSCORE', KEYS[2], a.id) or '0') or 0
if touched >= a.cutoff then return { 2, 'recent' } end

if not same_hash(h, a.expected) then return { 2, 'changed' } end

local tag = string.match(KEYS[1], '^({[^}]*})')
local inboxes = rcall('SMEMBERS', KEYS[4])
local pointers = {}
for _, inboxId in ipairs(inboxes) do table.insert(pointers, tag .. ':contact:' .. h.id .. ':inbox:' .. inboxId .. ':conv') end
if not all_declared(pointers) then return { -9, cjson.encode({ accountInboxes = inboxes }) } end
for _, pointer in ipairs(pointers) do
  if rcall('EXISTS', pointer) == 1 then return { 2, 'active' } end
end

-- writes start here
rcall('DEL', KEYS[1])
rcall('ZREM', KEYS[2], h.id)
emit(KEYS[5], 'contact.evicted', h.accountId, a.uid, a.now, { contactId = h.id, identifier = (h.identifier ~= '' and h.identifier) or NULL })
return { 1, '' }
