-- setAvailability: the availability an agent chose (online|busy|offline), with its event and fan-out.
-- KEYS[1] hash    account availability
-- KEYS[2] zset    account presence
-- KEYS[3] hash    agent
-- KEYS[4] stream  partition events
-- KEYS[5] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- ARGV[1] msgpack { accountId, agentId, availability, now, graceMs, uid }
-- Reply: { 1, online (0|1), changed (0|1) } | { -1 } no such agent
local a = cmsgpack.unpack(ARGV[1])
if rcall('HGET', KEYS[3], 'accountId') ~= a.accountId then return { -1 } end
local beat = rcall('ZSCORE', KEYS[2], a.agentId)
local online = (beat and tonumber(beat) > a.now - a.graceMs) and 1 or 0
local old = rcall('HGET', KEYS[1], a.agentId) or 'online'
if old == a.availability then return { 1, online, 0 } end
rcall('HSET', KEYS[1], a.agentId, a.availability)
rcall('HSET', KEYS[3], 'availability', a.availability)
local agent = { id = a.agentId, accountId = a.accountId, online = online == 1, availability = a.availability }
emit(KEYS[4], 'agent.updated', a.accountId, a.uid, a.now, { agent = agent })
publish(KEYS[5], 'presence.updated', { accountId = a.accountId, inboxId = '', contactId = '' }, true, { agent = agent })
return { 1, online, 1 }
