-- evictConversation: removes a resolved, idle, fully archived conversation from Redis (DESIGN.md
-- "Redis holds what is live"). The caller (engine/eviction.ts) has read the hash, checked in
-- PostgreSQL that the archive holds this exact state and every message (msgCount), and passes the
-- hash as it read it: any difference now (a message, a rating, a seen time since) refuses, so what
-- is deleted is exactly what was verified. Rehydration (rehydrateConversation) brings it back.
-- KEYS[1] hash    conversation
-- KEYS[2] stream  conversation log
-- KEYS[3] hash    echoId dedupe of the conversation
-- KEYS[4] zset    flood window of the conversation
-- KEYS[5] zset    partition snooze schedule
-- KEYS[6] stream  partition events
-- ARGV[1] msgpack { cutoff (ms: lastActivityAt and rehydratedAt must be below it), expected (the
--   hash as the caller read and verified it: field -> value), now, uid }
-- Derived keys (same hash tag): <tag>:inbox:<inboxId>:st:<status> (all four), <tag>:inbox:<inboxId>:queue,
--   <tag>:contact:<contactId>:inbox:<inboxId>:conv (deleted only while it names this conversation),
--   <tag>:agent:<assigneeId>:open, <conversation key>:edits (keys.ts conversationEdits: the archive
--   holds every edit by then, engine/eviction.ts checks it).
-- Reply: { 1, '' } evicted | { 2, reason } kept: 'missing', 'status', 'recent' or 'changed'
-- Emits conversation.evicted { conversationId, inboxId, contactId, lastActivityAt, msgCount } (no
-- `conversation` object: the archiver acknowledges it and leaves the row as it is).
local a = cmsgpack.unpack(ARGV[1])
local h = hgetall(KEYS[1])
if h.id == nil then return { 2, 'missing' } end
if h.status ~= 'resolved' then return { 2, 'status' } end
if (tonumber(h.lastActivityAt) or 0) >= a.cutoff or (tonumber(h.rehydratedAt) or 0) >= a.cutoff then return { 2, 'recent' } end

if not same_hash(h, a.expected) then return { 2, 'changed' } end

-- writes start here
local tag = string.match(KEYS[1], '^({[^}]*})')
rcall('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[1] .. ':edits')
rcall('ZREM', KEYS[5], h.id)
for _, st in ipairs({ 'open', 'pending', 'snoozed', 'resolved' }) do rcall('ZREM', status_list(KEYS[1], h.inboxId, st), h.id) end
rcall('ZREM', tag .. ':inbox:' .. h.inboxId .. ':queue', h.id)
if h.assigneeId and h.assigneeId ~= '' then rcall('ZREM', agent_open_key(KEYS[1], h.assigneeId), h.id) end
local pointer = tag .. ':contact:' .. (h.contactId or '') .. ':inbox:' .. h.inboxId .. ':conv'
if rcall('GET', pointer) == h.id then rcall('DEL', pointer) end
emit(KEYS[6], 'conversation.evicted', h.accountId, a.uid, a.now, { conversationId = h.id, inboxId = h.inboxId,
  contactId = h.contactId or NULL, lastActivityAt = tonumber(h.lastActivityAt), msgCount = tonumber(h.msgCount) or 0 })
return { 1, '' }
