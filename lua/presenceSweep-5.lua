-- presenceSweep: one agent of the partition index of online agents whose last heartbeat is older than
-- the grace window goes offline; its stale connection entries are removed. The caller (lua/sweeps.ts
-- presenceSweep) reads the stale members of the index (a plain read) and calls this per agent, so
-- every key it touches is declared; atomic, so any number of nodes may run it.
-- KEYS[1] zset    partition index of online agents ("<accountId>|<agentId>" -> last heartbeat ms)
-- KEYS[2] zset    account presence (agentId -> last heartbeat ms)
-- KEYS[3] zset    account connections ("<agentId>|<connId>" -> last heartbeat ms)
-- KEYS[4] hash    account availability (read only)
-- KEYS[5] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- ARGV[1] msgpack { accountId, agentId, now, graceMs }
-- Derived keys: none.
-- Reply: { 1, wentOffline (0|1) }
local a = cmsgpack.unpack(ARGV[1])
local cutoff = a.now - a.graceMs
local member = a.accountId .. '|' .. a.agentId
local indexed = rcall('ZSCORE', KEYS[1], member)
if not indexed or tonumber(indexed) > cutoff then return { 1, 0 } end -- beat again, or swept by another node
-- each key below is written last in this script when the write may empty (delete) it
rcall('ZREM', KEYS[1], member)
rcall('ZREMRANGEBYSCORE', KEYS[3], '-inf', cutoff)
local beat = rcall('ZSCORE', KEYS[2], a.agentId)
if beat and tonumber(beat) > cutoff then return { 1, 0 } end
rcall('ZREM', KEYS[2], a.agentId)
local av = rcall('HGET', KEYS[4], a.agentId) or 'online'
publish(KEYS[5], 'presence.updated', { accountId = a.accountId, inboxId = '', contactId = '' }, true,
  { agent = { id = a.agentId, accountId = a.accountId, online = false, availability = av } })
return { 1, 1 }
