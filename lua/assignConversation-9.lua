-- assignConversation: manual assignment by an agent: to an agent id, or '' to unassign, optionally
-- compare-and-set on the current assignee.
-- KEYS[1] hash    conversation
-- KEYS[2] stream  conversation log
-- KEYS[3] set     inbox members (of the conversation's inbox)
-- KEYS[4] zset    inbox assignment queue (written only when an open, unassigned conversation gets an
--                 assignee; KEYS[1] otherwise: a key that may not exist waits out a slot migration)
-- KEYS[5] stream  partition events
-- KEYS[6] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- KEYS[7..9]      the derived keys it touches, from the caller's hint of the conversation's state
--                 (lua/scripts.ts DeclaredHint), KEYS[1] where none: 7 the target agent's hash (its name,
--                 unless it is the actor), 8 the current assignee's open set, 9 the target's open set (an
--                 open conversation). A wrong guess answers { -9, hintJSON } before any write.
-- ARGV[1] msgpack { accountId, inboxes (actor's allowed inbox ids; absent = all), actorId, actorName,
--   assigneeId ('' = unassign), expectedAssigneeId (absent = no check; '' = expect unassigned), now, uid, hotTail }
-- Derived keys: none undeclared (KEYS[7..9] are derived by the caller).
-- Reply: { 1, conversationJSON } changed | { 2, conversationJSON } already so | { -1 } not found
--        | { -2 } forbidden (actor or target outside the inbox) | { -5, message } conflict
--        | { -9, hintJSON } KEYS[4], KEYS[7..9] are not the keys it needs: nothing written
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
local tag = string.match(KEYS[1], '^({[^}]*})')
local to = a.assigneeId
local needed = {}
if current ~= '' then table.insert(needed, agent_open_key(KEYS[1], current)) end
if to ~= '' and h.status == 'open' then table.insert(needed, agent_open_key(KEYS[1], to)) end
if to ~= '' and to ~= a.actorId then table.insert(needed, tag .. ':agent:' .. to) end
local queue = tag .. ':inbox:' .. h.inboxId .. ':queue'
local dequeue = to ~= '' and h.status == 'open' and current == ''
if dequeue then table.insert(needed, queue) end
if not all_declared(needed) then return needs_keys(h) end

local text
if a.assigneeId == '' then text = 'Conversation unassigned by ' .. a.actorName
elseif a.assigneeId == a.actorId then text = a.actorName .. ' self-assigned this conversation'
else text = 'Assigned to ' .. agent_name(tag, a.assigneeId) .. ' by ' .. a.actorName end
if dequeue then rcall('ZREM', queue, h.id) end
local view = assign_to(KEYS[1], KEYS[2], KEYS[5], KEYS[6], h, a.assigneeId, text, a.now, a.uid, a.hotTail)
return { 1, cjson.encode(view) }
