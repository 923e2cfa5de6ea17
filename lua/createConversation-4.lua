-- createConversation: the contact's current conversation in an inbox, or a new one.
-- KEYS[1] string  account displayId counter
-- KEYS[2] string  contact pointer: the contact's current conversation id in this inbox
-- KEYS[3] stream  partition events
-- KEYS[4] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- ARGV[1] msgpack { id, accountId, inboxId, contactId, now, uid, additionalAttributes (JSON text) }
-- Derived keys (same hash tag): <tag>:conv:<id> (hash), <tag>:inbox:<inboxId>:st:<status> (zset).
-- Reply: { 1, conversationJSON } created | { 2, conversationJSON } existing open/pending/snoozed one
local a = cmsgpack.unpack(ARGV[1])
local tag = string.match(KEYS[2], '^({p%d+})')

local existing = rcall('GET', KEYS[2])
if existing then
  local h = hgetall(tag .. ':conv:' .. existing)
  if h.status == 'open' or h.status == 'pending' or h.status == 'snoozed' then
    return { 2, cjson.encode(conv_view(h)) }
  end
end

local convKey = tag .. ':conv:' .. a.id
local displayId = rcall('INCR', KEYS[1])
local now = tostring(a.now)
rcall('HSET', convKey, 'id', a.id, 'displayId', displayId, 'accountId', a.accountId, 'inboxId', a.inboxId,
  'contactId', a.contactId, 'status', 'open', 'waitingSince', now, 'lastActivityAt', now, 'createdAt', now,
  'unreadCount', 0, 'msgCount', 0, 'additionalAttributes', a.additionalAttributes or '{}')
rcall('SET', KEYS[2], a.id)
local h = hgetall(convKey)
set_list(convKey, { id = a.id, inboxId = a.inboxId }, 'open', a.now)
local view = conv_view(h)
emit(KEYS[3], 'conversation.created', a.accountId, a.uid, a.now, { conversation = view })
publish(KEYS[4], 'conversation.created', h, true, { conversation = view })
return { 1, cjson.encode(view) }
