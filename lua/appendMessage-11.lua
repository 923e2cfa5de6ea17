-- appendMessage: the hot path. Validates, dedupes, applies the flood rule, appends the message to
-- the conversation log and the partition stream, updates the conversation, publishes the fan-out.
-- KEYS[1] hash    conversation (lastMessageAt: createdAt of the newest log entry, msgCount: entries ever
--                 appended; both kept in the one HSET of the conversation below)
-- KEYS[2] stream  conversation log (hot tail, MAXLEN ~ hotTail)
-- KEYS[3] stream  partition events
-- KEYS[4..6] are only read when used (echoId, sourceId, a contact sender); the caller passes
-- KEYS[1] in their place otherwise, so no declared key is one that usually does not exist (a
-- missing declared key makes every call TRYAGAIN while the partition's slot migrates)
-- KEYS[4] hash    echoId dedupe of this conversation: "<senderType>:<senderId>:<echoId>" -> the first
--                 message's stream id (re-read from KEYS[2]); older values hold the message JSON itself
-- KEYS[5] string  sourceId dedupe of the inbox: "<conversationId> <messageId>" of the first message (message
--                  JSON when written by an older version); unused when there is no sourceId
-- KEYS[6] zset    flood window of this conversation's contact messages (member uid, score ms)
-- KEYS[7] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- KEYS[8..11]     the derived keys this call writes, as the caller guessed them from the conversation's
--                 last known inboxId/status/assignee (lua/scripts.ts DeclaredHint), KEYS[1] where none:
--                 8 the status list of its status, 9 the open list (a contact reopening it), 10 the
--                 assignee's open set, 11 the partition snooze schedule (a contact waking it). A key
--                 written undeclared while its slot migrates aborts the script half-way ("non local
--                 key"), so a wrong guess writes nothing and answers { -9, hintJSON }: call again.
-- ARGV[1] msgpack { accountId, senderType ('contact'|'agent'), senderId, inboxes (allowed inbox ids,
--   agents only; absent = all), content, contentType, contentAttributes (JSON text), private, echoId,
--   sourceId, now, uid, reopenUid, floodLimit, hotTail, dedupeTtlMs, sourceTtlMs, brief (true: an appended
--   message's reply carries the conversation brief, lib conv_brief, instead of the whole view) }
-- Derived keys: none undeclared (KEYS[8..11] are derived by the caller).
-- Events: message.created { message, conversation (the brief, `partial: true`), waitedSince }, and
--   conversation.updated { conversation (the whole view), changed, previousStatus } when it changed more
-- Reply: { 1, messageJSON, conversationJSON (the brief with a.brief), reopened (0|1) } appended
--        | { 2, messageJSON, conversationJSON } repeat
--        | { 3, messageId, conversationJSON } repeated echoId whose first message has left the hot tail
--        | { 5, sourceDedupeValue } repeated sourceId (nothing written; the caller reads the first message)
--        | { -1 } not found | { -2 } forbidden | { -3, retryAfterMs } flood limited
--        | { -9, hintJSON } KEYS[8..11] are not the keys this conversation needs: nothing written
local a = cmsgpack.unpack(ARGV[1])
local h = hgetall(KEYS[1])
if h.id == nil or h.accountId ~= a.accountId then return { -1 } end
if a.senderType == 'contact' and h.contactId ~= a.senderId then return { -2 } end
if not inbox_allowed(a.inboxes, h.inboxId) then return { -2 } end

-- dedupe: a repeat returns the first message and writes nothing
local echoField = nil
if a.echoId then
  echoField = a.senderType .. ':' .. a.senderId .. ':' .. a.echoId
  local first = rcall('HGET', KEYS[4], echoField)
  if first then
    if string.sub(first, 1, 1) == '{' then return { 2, first, cjson.encode(conv_view(h)) } end -- written before ids
    local entry = rcall('XRANGE', KEYS[2], first, first)[1]
    if not entry then return { 3, first, cjson.encode(conv_view(h)) } end
    local m = cjson.decode(entry[2][2])
    m.id = first
    return { 2, cjson.encode(m), cjson.encode(conv_view(h)) }
  end
end
if a.sourceId then
  -- the caller resolves it (the first message may live in another conversation's log, or only in PostgreSQL)
  local first = rcall('GET', KEYS[5])
  if first then return { 5, first } end
end

-- flood rule: a contact's messages in this conversation within a sliding minute
local incoming = a.senderType == 'contact'
-- (the window may still hold arrivals older than a minute: only a window that looks full is trimmed
-- and counted again, so the common case is one ZCARD; it never holds more than floodLimit + 1)
if incoming and rcall('ZCARD', KEYS[6]) >= a.floodLimit then
  rcall('ZREMRANGEBYSCORE', KEYS[6], '-inf', a.now - 60000)
  if rcall('ZCARD', KEYS[6]) >= a.floodLimit then
    local oldest = rcall('ZRANGE', KEYS[6], 0, 0, 'WITHSCORES')
    local retry = tonumber(oldest[2]) + 60000 - a.now
    if retry < 1 then retry = 1 end
    return { -3, retry }
  end
end

-- every derived key the writes below touch must be declared (see KEYS[8..11])
local reopening = incoming and (h.status == 'resolved' or h.status == 'snoozed')
local needed = moved_keys(KEYS[1], h, reopening and 'open' or h.status)
if incoming and h.status == 'snoozed' then table.insert(needed, string.match(KEYS[1], '^({[^}]*})') .. ':snoozed') end
if not all_declared(needed) then return needs_keys(h) end

-- writes start here; `now` never goes back before the conversation's newest message (a request
-- held through an outage arrives late): the message and what it changes take that time
local now = a.now
local prevAt = tonumber(h.lastMessageAt) or last_message_at(KEYS[1], KEYS[2])
if now < prevAt then now = prevAt end
local private = (not incoming) and a.private == true
local attrs = a.contentAttributes
-- the log write alone: msgCount and lastMessageAt go into the one HSET of the hash below
local msg, msgJson = append_entry(KEYS[2], a.hotTail, {
  conversationId = h.id, accountId = h.accountId, inboxId = h.inboxId,
  type = incoming and 'incoming' or 'outgoing', content = a.content, contentType = a.contentType or 'text',
  contentAttributes = (attrs == nil or attrs == '{}') and {} or cjson.decode(attrs), private = private,
  echoId = a.echoId or NULL, sourceId = a.sourceId or NULL, status = 'sent',
  sender = { type = a.senderType, id = a.senderId }, createdAt = now, uid = a.uid })
if echoField then
  rcall('HSET', KEYS[4], echoField, msg.id)
  rcall('PEXPIRE', KEYS[4], a.dedupeTtlMs)
end
if a.sourceId then rcall('SET', KEYS[5], h.id .. ' ' .. msg.id, 'PX', a.sourceTtlMs) end
if incoming then
  rcall('ZADD', KEYS[6], a.now, a.uid) -- the flood window counts arrivals
  rcall('PEXPIRE', KEYS[6], 60000)
end

local changed = {}
local fields = { 'lastActivityAt', now }
local waitedSince = NULL
local reopened = false
if incoming then
  if h.waitingSince == nil or h.waitingSince == '' then
    table.insert(fields, 'waitingSince'); table.insert(fields, now); table.insert(changed, 'waitingSince')
  end
  table.insert(fields, 'unreadCount'); table.insert(fields, (tonumber(h.unreadCount) or 0) + 1)
  if h.status == 'resolved' or h.status == 'snoozed' then
    reopened = true
    table.insert(fields, 'status'); table.insert(fields, 'open')
    table.insert(fields, 'snoozedUntil'); table.insert(fields, '')
    table.insert(changed, 'status')
    rcall('ZREM', string.match(KEYS[1], '^({[^}]*})') .. ':snoozed', h.id)
  end
elseif not private then
  if h.waitingSince ~= nil and h.waitingSince ~= '' then
    waitedSince = tonumber(h.waitingSince)
    table.insert(fields, 'waitingSince'); table.insert(fields, '')
    table.insert(changed, 'waitingSince')
  end
  if h.firstReplyCreatedAt == nil or h.firstReplyCreatedAt == '' then
    table.insert(fields, 'firstReplyCreatedAt'); table.insert(fields, now)
    table.insert(changed, 'firstReplyCreatedAt')
  end
end
local actJson = reopened and select(2, append_entry(KEYS[2], a.hotTail, activity(h, 'Conversation was reopened', now, a.reopenUid)))
table.insert(fields, 'msgCount'); table.insert(fields, (tonumber(h.msgCount) or 0) + (reopened and 2 or 1))
table.insert(fields, 'lastMessageAt'); table.insert(fields, now)
rcall('HSET', KEYS[1], unpack(fields))
set_list(KEYS[1], h, reopened and 'open' or h.status, now)
-- the conversation is the hash as read plus what was just written (no second HGETALL); each JSON
-- is encoded once and the event data around it spliced as text (the message's from append_entry)
local previousStatus = h.status
for i = 1, #fields, 2 do h[fields[i]] = fields[i + 1] end
-- the event carries the brief (what a message changes); the whole view only where a
-- conversation.updated goes out or the caller wants it back (a.brief: the brief will do)
local briefJson = cjson.encode(conv_brief(h))
local viewJson = (#changed > 0 or not a.brief) and cjson.encode(conv_view(h)) or nil

emit_json(KEYS[3], 'message.created', h.accountId, a.uid, now, '{"message":' .. msgJson .. ',"conversation":' .. briefJson ..
  ',"waitedSince":' .. (waitedSince == NULL and 'null' or cjson.encode(waitedSince)) .. '}')
publish_json(KEYS[7], 'message.created', h, private, '{"message":' .. msgJson .. '}')
if reopened then
  emit_json(KEYS[3], 'message.created', h.accountId, a.reopenUid, now, '{"message":' .. actJson .. ',"conversation":' .. briefJson .. '}')
  publish_json(KEYS[7], 'message.created', h, false, '{"message":' .. actJson .. '}')
end
if #changed > 0 then
  local changedJson = cjson.encode(changed)
  emit_json(KEYS[3], 'conversation.updated', h.accountId, a.uid .. ':c', now, '{"conversation":' .. viewJson ..
    ',"changed":' .. changedJson .. ',"previousStatus":' .. cjson.encode(previousStatus or NULL) .. '}')
  publish_json(KEYS[7], 'conversation.updated', h, false, '{"conversation":' .. viewJson .. ',"changed":' .. changedJson .. '}')
end
return { 1, msgJson, a.brief and briefJson or viewJson, reopened and 1 or 0 }
