-- wakeSnoozed: claims the partition's due snooze entries and reopens each conversation that is still
-- snoozed until exactly that time. The claim (ZREM) and the reopen happen in one script, so an entry
-- fires exactly once however many engine nodes run the scheduler, and survives engine restarts.
-- KEYS[1] zset    partition snooze schedule (conversation id, score snoozedUntil)
-- KEYS[2] stream  partition events
-- KEYS[3] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- ARGV[1] msgpack { now, uid (base; each change gets uid:<conversationId>), hotTail, limit }
-- Derived keys (same hash tag): <tag>:conv:<id> (hash), <tag>:conv:<id>:log (stream),
--   <tag>:inbox:<inboxId>:st:<status> (zset by lastActivityAt).
-- Reply: { 1, claimed (entries taken off the schedule), woken (conversations reopened),
--          wokenJSON ([{ id, accountId, inboxId, assigneeId }] of the reopened ones; '[]' when none) }
local a = cmsgpack.unpack(ARGV[1])
local tag = string.match(KEYS[1], '^({p%d+})')
local due = rcall('ZRANGEBYSCORE', KEYS[1], '-inf', a.now, 'WITHSCORES', 'LIMIT', 0, a.limit)
local woken = {}
for i = 1, #due, 2 do
  local id = due[i]
  local at = tonumber(due[i + 1])
  rcall('ZREM', KEYS[1], id)
  local convKey = tag .. ':conv:' .. id
  local h = hgetall(convKey)
  if h.status == 'snoozed' and tonumber(h.snoozedUntil) == at then
    rcall('HSET', convKey, 'status', 'open', 'snoozedUntil', '', 'lastActivityAt', a.now)
    set_list(convKey, h, 'open', a.now)
    local uid = a.uid .. ':' .. id
    local act = append_log(convKey, convKey .. ':log', a.hotTail,
      activity(h, 'Conversation was reopened (snooze ended)', a.now, uid))
    local view = conv_view(hgetall(convKey))
    local changed = { 'status', 'snoozedUntil' }
    emit(KEYS[2], 'message.created', h.accountId, uid, a.now, { message = act, conversation = view })
    publish(KEYS[3], 'message.created', h, false, { message = act })
    emit(KEYS[2], 'conversation.updated', h.accountId, uid .. ':c', a.now,
      { conversation = view, changed = changed, previousStatus = 'snoozed', actor = { type = 'system', id = NULL } })
    publish(KEYS[3], 'conversation.updated', h, false, { conversation = view, changed = changed })
    table.insert(woken, { id = h.id, accountId = h.accountId, inboxId = h.inboxId, assigneeId = view.assigneeId })
  end
end
return { 1, #due / 2, #woken, #woken > 0 and cjson.encode(woken) or '[]' }
