-- drainQueue: assigns an inbox's waiting conversations, oldest first, while someone qualifies
-- (same rule as autoAssign). Entries that are no longer open or already assigned are dropped.
-- KEYS[1] zset    inbox assignment queue (conversation id -> queued at ms)
-- KEYS[2] list    inbox rotation
-- KEYS[3] set     inbox members
-- KEYS[4] zset    account presence
-- KEYS[5] hash    account availability
-- KEYS[6] stream  partition events
-- KEYS[7] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- ARGV[1] msgpack { accountId, inboxId, now, graceMs, uid, hotTail, limit }
-- Derived keys: <tag>:conv:<id> and <tag>:conv:<id>:log of queued conversations, <tag>:agent:<id>,
--   <tag>:agent:<id>:open, <tag>:queues.
-- Reply: { 1, assignedCount, remaining }
local a = cmsgpack.unpack(ARGV[1])
local tag = string.match(KEYS[1], '^({p%d+})')
local assigned = 0
local n = 0
for _, convId in ipairs(rcall('ZRANGE', KEYS[1], 0, a.limit - 1)) do
  n = n + 1
  local convKey = tag .. ':conv:' .. convId
  local h = hgetall(convKey)
  if h.id == nil or h.accountId ~= a.accountId or h.status ~= 'open' or (h.assigneeId and h.assigneeId ~= '') then
    rcall('ZREM', KEYS[1], convId)
  else
    local agentId = rr_pick(tag, KEYS[2], KEYS[3], KEYS[4], KEYS[5], a.now, a.graceMs)
    if not agentId then break end
    rr_rotate(KEYS[2], agentId)
    rcall('ZREM', KEYS[1], convId)
    assign_to(convKey, convKey .. ':log', KEYS[6], KEYS[7], h, agentId,
      'Assigned to ' .. agent_name(tag, agentId) .. ' by round robin', a.now, a.uid .. ':' .. n, a.hotTail)
    assigned = assigned + 1
  end
end
local remaining = rcall('ZCARD', KEYS[1])
if remaining == 0 then rcall('SREM', tag .. ':queues', a.inboxId) end
return { 1, assigned, remaining }
