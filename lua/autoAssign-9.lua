-- autoAssign: round robin for one conversation. Picks the least recently assigned inbox member who
-- is connected, `availability: online` and under maxConversations, and writes the assignment in the
-- same script, so concurrent callers on any node never break the rotation or exceed a cap. When
-- nobody qualifies the conversation waits in the inbox queue (oldest first).
-- KEYS[1] hash    conversation
-- KEYS[2] stream  conversation log
-- KEYS[3] list    inbox rotation (agent ids; head = next)
-- KEYS[4] set     inbox members
-- KEYS[5] zset    account presence (agentId -> last heartbeat ms)
-- KEYS[6] hash    account availability (agentId -> online|busy|offline)
-- KEYS[7] zset    inbox assignment queue (conversation id -> queued at ms)
-- KEYS[8] stream  partition events
-- KEYS[9] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- ARGV[1] msgpack { accountId, now, graceMs, uid, hotTail }
-- Derived keys: <tag>:agent:<id> (hash: name, maxConversations), <tag>:agent:<id>:open (zset: load),
--   <tag>:inbox:<inboxId>:st:<status>, <tag>:queues (set of inbox ids with a non-empty queue).
-- Reply: { 1, conversationJSON, agentId } assigned | { 0, conversationJSON } nothing to do
--        (not open, or already assigned) | { 3, conversationJSON } queued | { -1 } not found
local a = cmsgpack.unpack(ARGV[1])
local h = hgetall(KEYS[1])
if h.id == nil or h.accountId ~= a.accountId then return { -1 } end
local tag = string.match(KEYS[1], '^({p%d+})')
if h.status ~= 'open' or (h.assigneeId and h.assigneeId ~= '') then
  rcall('ZREM', KEYS[7], h.id)
  return { 0, cjson.encode(conv_view(h)) }
end
local agentId = rr_pick(tag, KEYS[3], KEYS[4], KEYS[5], KEYS[6], a.now, a.graceMs)
if not agentId then
  rcall('ZADD', KEYS[7], 'NX', a.now, h.id)
  rcall('SADD', tag .. ':queues', h.inboxId)
  return { 3, cjson.encode(conv_view(h)) }
end
rr_rotate(KEYS[3], agentId)
rcall('ZREM', KEYS[7], h.id)
local view = assign_to(KEYS[1], KEYS[2], KEYS[8], KEYS[9], h, agentId,
  'Assigned to ' .. agent_name(tag, agentId) .. ' by round robin', a.now, a.uid, a.hotTail)
return { 1, cjson.encode(view), agentId }
