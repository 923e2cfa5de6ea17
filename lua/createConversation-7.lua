-- createConversation: the contact's current conversation in an inbox, or a new one.
-- KEYS[1] string  contact pointer: the contact's current conversation id in this inbox
-- KEYS[2] string  account displayId counter
-- KEYS[3] stream  partition events
-- KEYS[4] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- KEYS[5..7]      the derived keys it touches, from the caller's hint of what the pointer named last
--                 (lua/scripts.ts DeclaredHint `pointed` and its `status`), KEYS[1] where none: 5 the new
--                 conversation hash <tag>:conv:<id>, 6 the inbox's open list (both unless the pointed one is
--                 current), 7 the conversation the pointer names. A wrong guess answers { -9, hintJSON }
--                 before any write (a new conversation's hash never exists: while the slot migrates the
--                 call waits for the migration to end, TRYAGAIN).
-- ARGV[1] msgpack { id, accountId, inboxId, contactId, now, uid, additionalAttributes (JSON text) }
-- Derived keys: none undeclared.
-- Reply: { 1, conversationJSON } created | { 2, conversationJSON } existing open/pending/snoozed one
--        | { -9, hintJSON } KEYS[5..7] are not the keys it needs: nothing written
local a = cmsgpack.unpack(ARGV[1])
local tag = string.match(KEYS[1], '^({[^}]*})')

local existing = rcall('GET', KEYS[1])
local previous = ''
if existing then
  local key = tag .. ':conv:' .. existing
  if not all_declared({ key }) then return { -9, cjson.encode({ pointed = existing }) } end
  local h = hgetall(key)
  if h.status == 'open' or h.status == 'pending' or h.status == 'snoozed' then
    return { 2, cjson.encode(conv_view(h)) }
  end
  previous = h.status or ''
end

local convKey = tag .. ':conv:' .. a.id
if not all_declared({ convKey, status_list(convKey, a.inboxId, 'open') }) then
  return { -9, cjson.encode({ pointed = existing or '', status = previous }) }
end

-- writes start here
local displayId = rcall('INCR', KEYS[2])
local now = tostring(a.now)
rcall('HSET', convKey, 'id', a.id, 'displayId', displayId, 'accountId', a.accountId, 'inboxId', a.inboxId,
  'contactId', a.contactId, 'status', 'open', 'waitingSince', now, 'lastActivityAt', now, 'createdAt', now,
  'unreadCount', 0, 'msgCount', 0, 'additionalAttributes', a.additionalAttributes or '{}')
rcall('SET', KEYS[1], a.id)
local h = hgetall(convKey)
set_list(convKey, { id = a.id, inboxId = a.inboxId }, 'open', a.now)
local view = conv_view(h)
emit(KEYS[3], 'conversation.created', a.accountId, a.uid, a.now, { conversation = view })
publish(KEYS[4], 'conversation.created', h, true, { conversation = view })
return { 1, cjson.encode(view) }
