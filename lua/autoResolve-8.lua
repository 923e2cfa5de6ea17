-- autoResolve: resolves one open conversation of an auto-resolving inbox that has been idle (no
-- activity) for the inbox's window. The caller (lua/sweeps.ts autoResolve) reads the idle ids from
-- the inbox's open list, scored by lastActivityAt (a plain read), and calls this per conversation,
-- so every key it touches is declared; it is checked against its hash before it is resolved.
-- KEYS[1] hash    conversation
-- KEYS[2] stream  conversation log
-- KEYS[3] stream  partition events
-- KEYS[4] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- KEYS[5] zset    the inbox's open list (the id was read there: a stale entry is dropped or re-scored)
-- KEYS[6..8]      the keys set_list touches resolving it, from the caller's hint (lua/scripts.ts
--                 movedKeys): its status list, the resolved list, its assignee's open set (KEYS[1] where none)
-- ARGV[1] msgpack { after (the inbox's autoResolveAfterMs), now, uid, hotTail }
-- Derived keys: none undeclared.
-- Reply: { 1, resolved (0|1), conversationJSON ('' when not resolved) } | { -9, hintJSON } KEYS[6..8]
--        are not the keys it needs: nothing written
local a = cmsgpack.unpack(ARGV[1])
local id = string.match(KEYS[1], ':conv:(.*)$')

-- "3 days", "2 hours", "90 minutes", "30 seconds": the window as the activity message says it
local function span(ms)
  if ms % 86400000 == 0 then local n = ms / 86400000; return string.format('%d day%s', n, n == 1 and '' or 's') end
  if ms % 3600000 == 0 then local n = ms / 3600000; return string.format('%d hour%s', n, n == 1 and '' or 's') end
  if ms % 60000 == 0 then local n = ms / 60000; return string.format('%d minute%s', n, n == 1 and '' or 's') end
  local n = math.max(1, math.floor(ms / 1000 + 0.5))
  return string.format('%d second%s', n, n == 1 and '' or 's')
end

local h = hgetall(KEYS[1])
local idleSince = a.now - a.after
if h.status ~= 'open' then
  rcall('ZREM', KEYS[5], id) -- a stale entry: not open any more
  return { 1, 0, '' }
end
if (tonumber(h.lastActivityAt) or 0) > idleSince then
  rcall('ZADD', KEYS[5], tonumber(h.lastActivityAt) or a.now, id) -- re-scored
  return { 1, 0, '' }
end
if not all_declared(moved_keys(KEYS[1], h, 'resolved')) then return needs_keys(h) end

-- writes start here
local changed = { 'status' }
if h.waitingSince ~= nil and h.waitingSince ~= '' then table.insert(changed, 'waitingSince') end
rcall('HSET', KEYS[1], 'status', 'resolved', 'waitingSince', '', 'lastActivityAt', a.now)
set_list(KEYS[1], h, 'resolved', a.now)
local act = append_log(KEYS[1], KEYS[2], a.hotTail,
  activity(h, 'Conversation was marked resolved by system due to ' .. span(a.after) .. ' of inactivity', a.now, a.uid))
local view = conv_view(hgetall(KEYS[1]))
emit(KEYS[3], 'message.created', h.accountId, a.uid, a.now, { message = act, conversation = view })
publish(KEYS[4], 'message.created', h, false, { message = act })
emit(KEYS[3], 'conversation.updated', h.accountId, a.uid .. ':c', a.now,
  { conversation = view, changed = changed, previousStatus = 'open', actor = { type = 'system', id = NULL } })
publish(KEYS[4], 'conversation.updated', h, false, { conversation = view, changed = changed })
return { 1, 1, cjson.encode(view) }
