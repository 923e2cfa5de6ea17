-- setConversationStatus: an agent moves a conversation to open/pending/snoozed/resolved. Appends an
-- activity message, moves the conversation between the status lists, keeps the snooze schedule,
-- clears waitingSince on resolve, emits and publishes message.created + conversation.updated.
-- The same status (and, for snoozed, the same snoozedUntil) changes nothing and emits nothing.
-- KEYS[1] hash    conversation
-- KEYS[2] stream  conversation log (hot tail, MAXLEN ~ hotTail)
-- KEYS[3] stream  partition events
-- KEYS[4] zset    partition snooze schedule (conversation id, score snoozedUntil); KEYS[1] when it is
--                 neither snoozed nor being snoozed (a key that may not exist waits out a migration)
-- KEYS[5] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- KEYS[6..10]     the derived keys it touches, as the caller guessed them from the conversation's last
--                 known state (lua/scripts.ts DeclaredHint), KEYS[1] where none: 6 the status list of its
--                 status, 7 the list of the new status, 8 the assignee's open set, and when it leaves
--                 'resolved': 9 the contact's pointer <tag>:contact:<contactId>:inbox:<inboxId>:conv, 10 the
--                 conversation that pointer names (its status only). A wrong guess answers { -9, hintJSON }
--                 before any write (every key touched is declared: see lua/scripts.ts NEEDS_KEYS).
-- ARGV[1] msgpack { accountId, inboxes (allowed inbox ids; absent = all), agentId, agentName,
--   status ('open'|'pending'|'snoozed'|'resolved'), snoozedUntil (ms, snoozed only),
--   snoozedUntilIso (the same time as ISO text, for the activity), now, uid, hotTail }
-- Derived keys: none undeclared (KEYS[6..10] are derived by the caller).
-- Reply: { 1, conversationJSON, changedJSON } changed | { 2, conversationJSON, '[]' } unchanged
--        | { -1 } not found | { -2 } forbidden | { -9, hintJSON } KEYS[6..10] are not the keys it needs
local a = cmsgpack.unpack(ARGV[1])
local h = hgetall(KEYS[1])
if h.id == nil or h.accountId ~= a.accountId then return { -1 } end
if not inbox_allowed(a.inboxes, h.inboxId) then return { -2 } end

local old = h.status
local oldUntil = tonumber(h.snoozedUntil)
if old == a.status and (a.status ~= 'snoozed' or oldUntil == a.snoozedUntil) then
  return { 2, cjson.encode(conv_view(h)), '[]' }
end

-- every key touched below is declared, checked before any write (the pointer before it is read)
local needed = moved_keys(KEYS[1], h, a.status)
if a.status == 'snoozed' or old == 'snoozed' then table.insert(needed, string.match(KEYS[1], '^({[^}]*})') .. ':snoozed') end
if not all_declared(needed) then return needs_keys(h) end
local tag = string.match(KEYS[1], '^({[^}]*})')
local pointer = tag .. ':contact:' .. (h.contactId or '') .. ':inbox:' .. h.inboxId .. ':conv'
local current = nil
if old == 'resolved' then
  if not all_declared({ pointer }) then return needs_keys(h) end
  current = rcall('GET', pointer)
  if current and current ~= h.id and not all_declared({ tag .. ':conv:' .. current }) then
    return needs_keys(h, { pointed = current })
  end
end

local changed = {}
local fields = { 'lastActivityAt', a.now }
if old ~= a.status then
  table.insert(fields, 'status'); table.insert(fields, a.status); table.insert(changed, 'status')
end
if a.status == 'snoozed' then
  table.insert(fields, 'snoozedUntil'); table.insert(fields, a.snoozedUntil); table.insert(changed, 'snoozedUntil')
  rcall('ZADD', KEYS[4], a.snoozedUntil, h.id)
else
  if oldUntil then
    table.insert(fields, 'snoozedUntil'); table.insert(fields, ''); table.insert(changed, 'snoozedUntil')
  end
  if old == 'snoozed' then rcall('ZREM', KEYS[4], h.id) end
end
if a.status == 'resolved' and h.waitingSince ~= nil and h.waitingSince ~= '' then
  table.insert(fields, 'waitingSince'); table.insert(fields, ''); table.insert(changed, 'waitingSince')
end
rcall('HSET', KEYS[1], unpack(fields))
set_list(KEYS[1], h, a.status, a.now)

-- a resolved conversation brought back becomes the contact's current one, unless another is active
if old == 'resolved' then
  if current ~= h.id then
    local st = current and rcall('HGET', tag .. ':conv:' .. current, 'status')
    if st ~= 'open' and st ~= 'pending' and st ~= 'snoozed' then rcall('SET', pointer, h.id) end
  end
end

local content
if a.status == 'resolved' then content = 'Conversation was resolved by ' .. a.agentName
elseif a.status == 'snoozed' then content = 'Conversation was snoozed until ' .. a.snoozedUntilIso
elseif a.status == 'pending' then content = 'Conversation was marked as pending'
else content = 'Conversation was reopened' end

local act = append_log(KEYS[1], KEYS[2], a.hotTail, activity(h, content, a.now, a.uid))
local view = conv_view(hgetall(KEYS[1]))
emit(KEYS[3], 'message.created', h.accountId, a.uid, a.now, { message = act, conversation = view })
publish(KEYS[5], 'message.created', h, false, { message = act })
emit(KEYS[3], 'conversation.updated', h.accountId, a.uid .. ':c', a.now,
  { conversation = view, changed = changed, previousStatus = old, actor = { type = 'agent', id = a.agentId } })
publish(KEYS[5], 'conversation.updated', h, false, { conversation = view, changed = changed })
return { 1, cjson.encode(view), cjson.encode(changed) }
