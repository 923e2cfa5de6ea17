-- createContact: a new contact (engine/directory/contacts.ts) with its touch and its event, at once.
-- KEYS[1] hash    the new contact <tag>:contact:<id>: it never exists before, so while its slot
--                 migrates the call is refused before it runs (TRYAGAIN) and waits for the move to
--                 end (lua/scripts.ts untilSettled), where a MULTI failed the connection with 503
-- KEYS[2] zset    partition contacts-touched index (eviction's)
-- KEYS[3] stream  partition events
-- ARGV[1] msgpack { id, accountId, uid, now, fields (flat list: field, value, ...), event (JSON text:
--                 the contact.created data) }
-- Derived keys: none.
-- Reply: { 1, '' } written | { 2, '' } a contact with this id exists: nothing written
local a = cmsgpack.unpack(ARGV[1])
if rcall('EXISTS', KEYS[1]) == 1 then return { 2, '' } end
rcall('HSET', KEYS[1], unpack(a.fields))
rcall('ZADD', KEYS[2], a.now, a.id)
emit_json(KEYS[3], 'contact.created', a.accountId, a.uid, a.now, a.event)
return { 1, '' }
