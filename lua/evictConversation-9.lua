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
-- KEYS[7] zset    the inbox's resolved list (lua/scripts.ts derives KEYS[7..9] from `expected`)
-- KEYS[8] string  the contact's pointer in the inbox (deleted only while it names this conversation)
-- KEYS[9] hash    the conversation's edits (the archive holds every edit by then, engine/eviction.ts
--                 checks it)
-- Every key it touches is declared: while the slot migrates it runs only once all of them are on
-- the node (a missing one, as an expired echo or flood key, makes it wait for the migration's end).
-- ARGV[1] msgpack { cutoff (ms: lastActivityAt and rehydratedAt must be below it), expected (the
--   hash as the caller read and verified it: field -> value), now, uid }
-- Derived keys: none. A resolved conversation is on no other status list, queue or load (set_list
--   and the round robin keep them in step), so only its resolved list is written.
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
rcall('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[9])
rcall('ZREM', KEYS[5], h.id)
rcall('ZREM', KEYS[7], h.id)
if rcall('GET', KEYS[8]) == h.id then rcall('DEL', KEYS[8]) end
emit(KEYS[6], 'conversation.evicted', h.accountId, a.uid, a.now, { conversationId = h.id, inboxId = h.inboxId,
  contactId = h.contactId or NULL, lastActivityAt = tonumber(h.lastActivityAt), msgCount = tonumber(h.msgCount) or 0 })
return { 1, '' }
