-- presenceBeat: heartbeats of one agent's connections on one node (OnlineStatusTracker). The agent
-- is online while any connection on any node heartbeats within the grace window (≈3× heartbeat),
-- so a throttled background tab does not flap. Publishes presence.updated when it comes online.
-- KEYS[1] zset    account presence (agentId -> last heartbeat ms)
-- KEYS[2] zset    account connections ("<agentId>|<connId>" -> last heartbeat ms)
-- KEYS[3] zset    partition index of online agents ("<accountId>|<agentId>" -> last heartbeat ms)
-- KEYS[4] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- KEYS[5] hash    account availability (read only)
-- ARGV[1] msgpack { accountId, agentId, connIds, now, graceMs }
-- Derived keys: none.
-- Reply: { 1 } came online | { 0 } was already online
local a = cmsgpack.unpack(ARGV[1])
local before = rcall('ZSCORE', KEYS[1], a.agentId)
for _, connId in ipairs(a.connIds) do rcall('ZADD', KEYS[2], a.now, a.agentId .. '|' .. connId) end
rcall('ZADD', KEYS[1], a.now, a.agentId)
rcall('ZADD', KEYS[3], a.now, a.accountId .. '|' .. a.agentId)
if before and tonumber(before) > a.now - a.graceMs then return { 0 } end
local av = rcall('HGET', KEYS[5], a.agentId) or 'online'
publish(KEYS[4], 'presence.updated', { accountId = a.accountId, inboxId = '', contactId = '' }, true,
  { agent = { id = a.agentId, accountId = a.accountId, online = true, availability = av } })
return { 1 }
