-- rehydrateConversation: writes an evicted conversation back from the archive, only if it is absent.
-- Two nodes rehydrating at once end with one copy: the second finds the hash and writes nothing.
-- The log is rebuilt with the messages' ORIGINAL stream ids (XADD with explicit ids into an empty
-- stream), so message ids, `before`/`after` cursors and resume positions stay valid; later appends
-- with '*' always get greater ids (Redis never hands out an id below a stream's last one, even if
-- its clock went back).
-- KEYS[1] hash    conversation
-- KEYS[2] stream  conversation log (a leftover without its hash is replaced)
-- KEYS[3] zset    the inbox's status list of the conversation's status (by lastActivityAt)
-- ARGV[1] msgpack { id, fields (flat list: field, value, ...), score (lastActivityAt),
--   messages (list of { id (stream id, strictly ascending), json (the log entry's `m` field) }) }
-- Derived keys: none. It writes only while KEYS[1] does not exist, so never during a slot migration
--   (a missing declared key is ASK/TRYAGAIN): deleting KEYS[2] and writing it again is safe.
-- Reply: { 1, restored messages } written | { 2, 0 } already live (nothing written)
--        | { 0, reason } refused, nothing written (ids not strictly ascending)
local a = cmsgpack.unpack(ARGV[1])
if rcall('EXISTS', KEYS[1]) == 1 then return { 2, 0 } end

-- validate before any write: a script error midway would leave a half-written copy
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  if not ms then return nil end
  return tonumber(ms), tonumber(seq)
end
local lastMs, lastSeq = -1, -1
for _, m in ipairs(a.messages) do
  local ms, seq = parse(m.id)
  if ms == nil or ms < lastMs or (ms == lastMs and seq <= lastSeq) or (ms == 0 and seq == 0) then
    return { 0, 'message ids are not strictly ascending' }
  end
  lastMs, lastSeq = ms, seq
end

-- writes start here
rcall('DEL', KEYS[2])
for _, m in ipairs(a.messages) do rcall('XADD', KEYS[2], m.id, 'm', m.json) end
rcall('HSET', KEYS[1], unpack(a.fields))
rcall('ZADD', KEYS[3], a.score, a.id)
return { 1, #a.messages }
