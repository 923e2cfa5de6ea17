-- updateMessage: edits (message.update) or deletes (message.delete) one message of a conversation.
-- The conversation log is append-only, so a change never rewrites the message's entry. Instead:
--   * the edits hash (KEYS[3]) maps the message id to the message's current JSON: every reader of the
--     log (history, resume, echoId repeats, read receipts) and of archived rows lays it over what it read;
--   * an update entry (field `u`, not `m`: it is not a message) goes onto the log carrying the message
--     as it now is, with its ORIGINAL id, so `resume` after a later id hands the change to a client that
--     missed the event; `updCount` on the hash counts these entries (log length = msgCount + updCount);
--   * message.updated goes to the partition stream (the archiver updates the row in place) and to the
--     fan-out (agents of the inbox; the contact too unless the message is a private note).
-- A message only the archive still holds (trimmed from the hot tail, or back from eviction) is read by
-- the caller from PostgreSQL and passed in `archived`; the edits hash, when it has the message, wins.
-- KEYS[1] hash    conversation
-- KEYS[2] stream  conversation log (MAXLEN ~ hotTail)
-- KEYS[3] hash    edits of the conversation: message id -> current message JSON
-- KEYS[4] stream  partition events
-- KEYS[5] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- ARGV[1] msgpack { accountId, agentId, admin (true: may delete any contact or agent message),
--   inboxes (allowed inbox ids; absent = all), messageId, action ('edit'|'delete'), content (edit),
--   windowMs (edits only within it of createdAt), now, uid, hotTail, archived (message JSON, optional) }
-- Reply: { 1, messageJSON, changed (1, or 0 when it already was so: nothing written) }
--        | { 3 } the message is neither in the log nor in the edits hash (call again with `archived`)
--        | { -1 } conversation not found | { -2, reason } forbidden | { -4, reason } invalid state
--        | { -6 } no such message
local a = cmsgpack.unpack(ARGV[1])
local h = hgetall(KEYS[1])
if h.id == nil or h.accountId ~= a.accountId then return { -1 } end
if not inbox_allowed(a.inboxes, h.inboxId) then return { -2, 'this conversation belongs to an inbox you are not a member of' } end

-- the message as it is now
local raw = rcall('HGET', KEYS[3], a.messageId)
if not raw then
  local entry = rcall('XRANGE', KEYS[2], a.messageId, a.messageId)[1]
  if entry then
    for j = 1, #entry[2], 2 do if entry[2][j] == 'm' then raw = entry[2][j + 1] end end
    if not raw then return { -6 } end -- an update entry's id is no message
  elseif a.archived then raw = a.archived
  else return { 3 } end
end
local m = cjson.decode(raw)
m.id = a.messageId
if m.conversationId ~= h.id then return { -6 } end

local sender = m.sender or {}
local mine = sender.type == 'agent' and sender.id == a.agentId
local deleted = type(m.contentAttributes) == 'table' and m.contentAttributes.deleted == true
if m.type == 'activity' then return { -2, 'activity messages cannot be changed' } end
if a.action == 'edit' then
  if not mine then return { -2, 'only its author can edit a message' } end
  if deleted then return { -4, 'the message was deleted' } end
  if a.now - (tonumber(m.createdAt) or 0) > a.windowMs then return { -4, 'the edit window of this message has passed' } end
  if m.content == a.content then return { 1, cjson.encode(m), 0 } end
  m.content = a.content
  local attrs = type(m.contentAttributes) == 'table' and m.contentAttributes or {}
  attrs.edited = true
  m.contentAttributes = attrs
else
  if not mine and not a.admin then return { -2, 'only its author or an administrator can delete a message' } end
  if deleted then return { 1, cjson.encode(m), 0 } end
  m.content = ''
  m.contentAttributes = { deleted = true }
end
m.updatedAt = a.now

-- writes start here
local json = cjson.encode(m)
rcall('HSET', KEYS[3], a.messageId, json)
rcall('XADD', KEYS[2], 'MAXLEN', '~', a.hotTail, '*', 'u', json)
rcall('HINCRBY', KEYS[1], 'updCount', 1)
emit(KEYS[4], 'message.updated', h.accountId, a.uid, a.now, { message = m, action = a.action })
publish(KEYS[5], 'message.updated', h, m.private == true, { message = m })
return { 1, json, 1 }
