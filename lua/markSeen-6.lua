-- markSeen: an agent or the contact has seen the conversation. Sets the viewer's last-seen time (the
-- assignee's also resets unreadCount), publishes message.updated (status 'read') for the other side's
-- messages since the previous seen time and conversation.updated. The archived write is throttled:
-- conversation.seen goes to the partition stream only when the viewer's throttle key was free.
-- KEYS[1] hash    conversation
-- KEYS[2] stream  conversation log
-- KEYS[3] stream  partition events
-- KEYS[4] string  seen throttle of this viewer in this conversation (SET NX PX throttleMs)
-- KEYS[5] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- KEYS[6] hash    edits of the conversation (keys.ts conversationEdits), read when the conversation has
--                 any (updCount > 0): a receipt carries the message as it now is (edited or deleted), never
--                 its first version. KEYS[1] when the caller's hint (lua/scripts.ts DeclaredHint `edits`)
--                 knows of none; the script then answers { -9, hintJSON } before any write if it has some.
-- Derived keys: none undeclared.
-- ARGV[1] msgpack { accountId, role ('agent'|'contact'), viewerId, inboxId (the contact's inbox),
--   inboxes (agents: allowed inbox ids; absent = all), now, uid, throttleMs,
--   cap (most read receipts per call), slackMs (how far before the previous seen time the log
--   is scanned: stream ids carry the Redis clock, createdAt the engine's) }
-- Reply: { 1, conversationJSON, receipts (messages newly read), archived (1 when the event was emitted) }
--        | { -1 } not found | { -2 } forbidden | { -9, hintJSON } KEYS[6] is needed: nothing written
local a = cmsgpack.unpack(ARGV[1])
local h = hgetall(KEYS[1])
if h.id == nil or h.accountId ~= a.accountId then return { -1 } end
local agent = a.role == 'agent'
if agent then
  if not inbox_allowed(a.inboxes, h.inboxId) then return { -2 } end
elseif h.contactId ~= a.viewerId or h.inboxId ~= a.inboxId then
  return { -2 }
end

local edited = (tonumber(h.updCount) or 0) > 0
if edited and not all_declared({ KEYS[1] .. ':edits' }) then return needs_keys(h, { edits = true }) end

local field = agent and 'agentLastSeenAt' or 'contactLastSeenAt'
local prev = tonumber(h[field]) or 0
local fields = { field, a.now }
local changed = { field }
if agent and h.assigneeId == a.viewerId then
  table.insert(fields, 'assigneeLastSeenAt'); table.insert(fields, a.now); table.insert(changed, 'assigneeLastSeenAt')
  table.insert(fields, 'unreadCount'); table.insert(fields, 0); table.insert(changed, 'unreadCount')
end
rcall('HSET', KEYS[1], unpack(fields))

-- read receipts: the other side's messages (never activity; for a contact never private notes)
local start = '-'
if prev > a.slackMs then start = tostring(prev - a.slackMs) end
local entries = rcall('XREVRANGE', KEYS[2], '+', start, 'COUNT', a.cap)
local receipts = 0
for i = #entries, 1, -1 do
  local entry = entries[i]
  local f = entry[2]
  local raw = nil
  for j = 1, #f, 2 do if f[j] == 'm' then raw = f[j + 1] end end
  if raw then
    local m = cjson.decode(raw)
    local theirs
    if agent then theirs = m.type == 'incoming'
    else theirs = (m.type == 'outgoing' or m.type == 'template') and m.private ~= true end
    local created = tonumber(m.createdAt) or 0
    if theirs and created > prev and created <= a.now and (m.status == 'sent' or m.status == 'delivered') then
      local now = edited and rcall('HGET', KEYS[6], entry[1])
      if now then m = cjson.decode(now) end
      m.id = entry[1]
      m.status = 'read'
      publish(KEYS[5], 'message.updated', h, m.private == true, { message = m })
      receipts = receipts + 1
    end
  end
end

local view = conv_view(hgetall(KEYS[1]))
publish(KEYS[5], 'conversation.updated', h, false, { conversation = view, changed = changed })
local archived = 0
if rcall('SET', KEYS[4], '1', 'NX', 'PX', a.throttleMs) then
  emit(KEYS[3], 'conversation.seen', h.accountId, a.uid, a.now,
    { conversation = view, viewer = { type = a.role, id = a.viewerId }, seenAt = a.now, changed = changed })
  archived = 1
end
return { 1, cjson.encode(view), receipts, archived }
