-- autoAssign: round robin for one conversation. Picks the least recently assigned inbox member who
-- is connected, `availability: online` and under maxConversations, and writes the assignment in the
-- same script, so concurrent callers on any node never break the rotation or exceed a cap. When
-- nobody qualifies the conversation waits in the inbox queue (oldest first); the engine drains a
-- queue by calling this for each queued conversation (engine/assignment.ts drainInbox).
-- KEYS[1] hash    conversation
-- KEYS[2] stream  conversation log
-- KEYS[3] list    inbox rotation (agent ids; head = next)
-- KEYS[4] set     inbox members
-- KEYS[5] zset    account presence (agentId -> last heartbeat ms)
-- KEYS[6] hash    account availability (agentId -> online|busy|offline)
-- KEYS[7] zset    inbox assignment queue (conversation id -> queued at ms)
-- KEYS[8] stream  partition events
-- KEYS[9] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- KEYS[10] set    partition index of inbox ids with a non-empty queue
-- KEYS[11..]      a variable tail: for each inbox member, as the caller last knew them (lua/scripts.ts
--                 DeclaredHint.agents), its hash <tag>:agent:<id> (name, maxConversations) then its open
--                 set <tag>:agent:<id>:open (load). Members not all declared: { -9, hintJSON } before
--                 any write, the hint naming them; the caller calls again.
-- ARGV[1] msgpack { accountId, inboxId, now, graceMs, uid, hotTail }
-- Derived keys: none undeclared.
-- Reply: { 1, conversationJSON, agentId } assigned | { 0, conversationJSON } nothing to do
--        (not open, or already assigned) | { 3, conversationJSON } queued
--        | { -1 } not found (a queue entry of it is dropped) | { -9, hintJSON } members not declared
local a = cmsgpack.unpack(ARGV[1])
local h = hgetall(KEYS[1])
local id = string.match(KEYS[1], ':conv:(.*)$')

-- takes the conversation off the queue; the last one out takes the inbox off the index (counted
-- before the ZREM: the emptied queue is gone and is not touched again)
local function dequeue(inboxId)
  local last = rcall('ZCARD', KEYS[7]) == 1 and rcall('ZSCORE', KEYS[7], id)
  rcall('ZREM', KEYS[7], id)
  if last then rcall('SREM', KEYS[10], inboxId) end
end

if h.id == nil or h.accountId ~= a.accountId then
  dequeue(a.inboxId)
  return { -1 }
end
local tag = string.match(KEYS[1], '^({[^}]*})')
if h.status ~= 'open' or (h.assigneeId and h.assigneeId ~= '') then
  dequeue(h.inboxId)
  return { 0, cjson.encode(conv_view(h)) }
end
local members = rcall('SMEMBERS', KEYS[4])
local needed = {}
for _, m in ipairs(members) do
  table.insert(needed, tag .. ':agent:' .. m)
  table.insert(needed, tag .. ':agent:' .. m .. ':open')
end
if not all_declared(needed) then return needs_keys(h, { agents = members }) end

local agentId = rr_pick(tag, KEYS[3], members, KEYS[5], KEYS[6], a.now, a.graceMs)
if not agentId then
  rcall('ZADD', KEYS[7], 'NX', a.now, h.id)
  rcall('SADD', KEYS[10], h.inboxId)
  return { 3, cjson.encode(conv_view(h)) }
end
rr_rotate(KEYS[3], agentId)
dequeue(h.inboxId)
local view = assign_to(KEYS[1], KEYS[2], KEYS[8], KEYS[9], h, agentId,
  'Assigned to ' .. agent_name(tag, agentId) .. ' by round robin', a.now, a.uid, a.hotTail)
return { 1, cjson.encode(view), agentId }
