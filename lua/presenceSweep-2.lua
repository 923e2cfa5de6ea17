-- presenceSweep: agents whose last heartbeat is older than the grace window go offline; their stale
-- connection entries are removed. Reads only the partition index of online agents (no full scan);
-- atomic, so any number of nodes may run it.
-- KEYS[1] zset    partition index of online agents ("<accountId>|<agentId>" -> last heartbeat ms)
-- KEYS[2] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- ARGV[1] msgpack { now, graceMs, limit }
-- Derived keys: <tag>:acct:<accountId>:presence, :conns, :availability.
-- Reply: { 1, wentOfflineCount, "<accountId>|<agentId>"... }
local a = cmsgpack.unpack(ARGV[1])
local tag = string.match(KEYS[1], '^({p%d+})')
local cutoff = a.now - a.graceMs
local out = { 1, 0 }
for _, member in ipairs(rcall('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff, 'LIMIT', 0, a.limit)) do
  rcall('ZREM', KEYS[1], member)
  local sep = string.find(member, '|', 1, true)
  local accountId = string.sub(member, 1, sep - 1)
  local agentId = string.sub(member, sep + 1)
  local acct = tag .. ':acct:' .. accountId
  rcall('ZREMRANGEBYSCORE', acct .. ':conns', '-inf', cutoff)
  local beat = rcall('ZSCORE', acct .. ':presence', agentId)
  if not beat or tonumber(beat) <= cutoff then
    rcall('ZREM', acct .. ':presence', agentId)
    local av = rcall('HGET', acct .. ':availability', agentId) or 'online'
    publish(KEYS[2], 'presence.updated', { accountId = accountId, inboxId = '', contactId = '' }, true,
      { agent = { id = agentId, accountId = accountId, online = false, availability = av } })
    out[2] = out[2] + 1
    table.insert(out, member)
  end
end
return out
