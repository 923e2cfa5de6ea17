-- assignConversation: manual assignment by an agent: to an agent id, or '' to unassign, optionally
-- compare-and-set on the current assignee.
-- KEYS[1] hash    conversation
-- KEYS[2] stream  conversation log
-- KEYS[3] set     inbox members (of the conversation's inbox)
-- KEYS[4] zset    inbox assignment queue
-- KEYS[5] stream  partition events
-- KEYS[6] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- ARGV[1] msgpack { accountId, inboxes (actor's allowed inbox ids; absent = all), actorId, actorName,
--   assigneeId ('' = unassign), expectedAssigneeId (absent = no check; '' = expect unassigned), now, uid, hotTail }
-- Derived keys: <tag>:agent:<id> (target's name/account), <tag>:agent:<id>:open.
-- Reply: { 1, conversationJSON } changed | { 2, conversationJSON } already so | { -1 } not found
--        | { -2 } forbidden (actor or target outside the inbox) | { -5, message } conflict
local a = cmsgpack.unpack(ARGV[1])
local h = hgetall(KEYS[1])
if h.id == nil or h.accountId ~= a.accountId then return { -1 } end
if not inbox_allowed(a.inboxes, h.inboxId) then return { -2 } end
local current = h.assigneeId or ''
if a.expectedAssigneeId and a.expectedAssigneeId ~= current then
  return { -5, 'expectedAssigneeId is stale: the assignee is now ' .. (current == '' and 'nobody' or current) }
end
if a.assigneeId ~= '' and rcall('SISMEMBER', KEYS[3], a.assigneeId) == 0 then return { -2 } end
if a.assigneeId == current then return { 2, cjson.encode(conv_view(h)) } end
local tag = string.match(KEYS[1], '^({p%d+})')
local text
if a.assigneeId == '' then text = 'Conversation unassigned by ' .. a.actorName
elseif a.assigneeId == a.actorId then text = a.actorName .. ' self-assigned this conversation'
else text = 'Assigned to ' .. agent_name(tag, a.assigneeId) .. ' by ' .. a.actorName end
if a.assigneeId ~= '' then rcall('ZREM', KEYS[4], h.id) end
local view = assign_to(KEYS[1], KEYS[2], KEYS[5], KEYS[6], h, a.assigneeId, text, a.now, a.uid, a.hotTail)
return { 1, cjson.encode(view) }
