-- autoResolve: resolves the open conversations of auto-resolving inboxes that have been idle (no
-- activity) for the inbox's window. The inbox's open list is already scored by lastActivityAt, so
-- the idle ones are a range query; each is checked against its hash before it is resolved.
-- KEYS[1] hash    partition auto-resolve settings: inboxId -> autoResolveAfterMs
-- KEYS[2] stream  partition events
-- KEYS[3] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- ARGV[1] msgpack { now, uid (base; each change gets uid:<conversationId>), hotTail, limit (per call) }
-- Derived keys (same hash tag): <tag>:inbox:<inboxId>:st:<status> (zset by lastActivityAt),
--   <tag>:conv:<id> (hash), <tag>:conv:<id>:log (stream).
-- Reply: { 1, resolved }
local a = cmsgpack.unpack(ARGV[1])
local tag = string.match(KEYS[1], '^({p%d+})')

-- "3 days", "2 hours", "90 minutes", "30 seconds": the window as the activity message says it
local function span(ms)
  if ms % 86400000 == 0 then local n = ms / 86400000; return string.format('%d day%s', n, n == 1 and '' or 's') end
  if ms % 3600000 == 0 then local n = ms / 3600000; return string.format('%d hour%s', n, n == 1 and '' or 's') end
  if ms % 60000 == 0 then local n = ms / 60000; return string.format('%d minute%s', n, n == 1 and '' or 's') end
  local n = math.max(1, math.floor(ms / 1000 + 0.5))
  return string.format('%d second%s', n, n == 1 and '' or 's')
end

local settings = rcall('HGETALL', KEYS[1])
local resolved = 0
for i = 1, #settings, 2 do
  local inboxId = settings[i]
  local after = tonumber(settings[i + 1])
  if after and after > 0 and resolved < a.limit then
    local idleSince = a.now - after
    local ids = rcall('ZRANGEBYSCORE', tag .. ':inbox:' .. inboxId .. ':st:open', '-inf', idleSince, 'LIMIT', 0, a.limit - resolved)
    for _, id in ipairs(ids) do
      local convKey = tag .. ':conv:' .. id
      local h = hgetall(convKey)
      if h.status == 'open' and (tonumber(h.lastActivityAt) or 0) <= idleSince then
        local changed = { 'status' }
        if h.waitingSince ~= nil and h.waitingSince ~= '' then table.insert(changed, 'waitingSince') end
        rcall('HSET', convKey, 'status', 'resolved', 'waitingSince', '', 'lastActivityAt', a.now)
        set_list(convKey, h, 'resolved', a.now)
        local uid = a.uid .. ':' .. id
        local act = append_log(convKey, convKey .. ':log', a.hotTail,
          activity(h, 'Conversation was marked resolved by system due to ' .. span(after) .. ' of inactivity', a.now, uid))
        local view = conv_view(hgetall(convKey))
        emit(KEYS[2], 'message.created', h.accountId, uid, a.now, { message = act, conversation = view })
        publish(KEYS[3], 'message.created', h, false, { message = act })
        emit(KEYS[2], 'conversation.updated', h.accountId, uid .. ':c', a.now,
          { conversation = view, changed = changed, previousStatus = 'open', actor = { type = 'system', id = NULL } })
        publish(KEYS[3], 'conversation.updated', h, false, { conversation = view, changed = changed })
        resolved = resolved + 1
      elseif h.status ~= 'open' then
        rcall('ZREM', tag .. ':inbox:' .. inboxId .. ':st:open', id) -- a stale entry: not open any more
      else
        rcall('ZADD', tag .. ':inbox:' .. inboxId .. ':st:open', tonumber(h.lastActivityAt) or a.now, id) -- re-scored
      end
    end
  end
end
return { 1, resolved }
