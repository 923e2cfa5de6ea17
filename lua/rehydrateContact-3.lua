-- rehydrateContact: writes an evicted contact back from the archive, only if it is absent (two nodes
-- restoring at once end with one copy), with its identifier mapping and a fresh touch.
-- KEYS[1] hash    contact
-- KEYS[2] zset    partition contacts-touched index
-- KEYS[3] hash    account identifiers (identifier -> contactId)
-- ARGV[1] msgpack { id, fields (flat list: field, value, ...), identifier ('' = none), now }
-- Derived keys: <tag>:contact:<holder id> (read only), only while KEYS[1] does not exist: then the
--   call never runs during a slot migration (a missing declared key is ASK/TRYAGAIN), so it is local.
-- Reply: { 1, '' } written | { 2, '' } already live | { 0, reason } refused, nothing written: the
--   identifier now belongs to another live contact (that one stays the identifier's contact)
local a = cmsgpack.unpack(ARGV[1])
if rcall('EXISTS', KEYS[1]) == 1 then return { 2, '' } end
if a.identifier ~= '' then
  local holder = rcall('HGET', KEYS[3], a.identifier)
  if holder and holder ~= a.id and rcall('EXISTS', string.match(KEYS[1], '^({[^}]*})') .. ':contact:' .. holder) == 1 then
    return { 0, 'identifier taken' }
  end
  rcall('HSET', KEYS[3], a.identifier, a.id)
end
rcall('HSET', KEYS[1], unpack(a.fields))
rcall('ZADD', KEYS[2], a.now, a.id)
return { 1, '' }
