-- wakeSnoozed: one due entry of the partition's snooze schedule: claims it and reopens its
-- conversation if it is still snoozed until exactly that time. The claim (ZREM) and the reopen happen
-- in one script, so an entry fires exactly once however many engine nodes run the scheduler, and
-- survives engine restarts. The caller reads the due ids (a plain read, lua/sweeps.ts wakeSnoozed) and
-- calls this per conversation, so every key it touches is declared.
-- KEYS[1] hash    conversation
-- KEYS[2] stream  conversation log
-- KEYS[3] zset    partition snooze schedule (conversation id, score snoozedUntil)
-- KEYS[4] stream  partition events
-- KEYS[5] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- KEYS[6..8]      the keys set_list touches reopening it, from the caller's hint (lua/scripts.ts
--                 movedKeys): its status list, the open list, its assignee's open set (KEYS[1] where none)
-- ARGV[1] msgpack { now, uid, hotTail }
-- Derived keys: none undeclared.
-- Reply: { 1, claimed (0|1: taken off the schedule), woken (0|1), wokenJSON ([{ id, accountId, inboxId,
--          assigneeId }] or '[]'), conversationJSON ('' when not woken) } | { -9, hintJSON } KEYS[6..8]
--          are not the keys it needs: nothing written
local a = cmsgpack.unpack(ARGV[1])
local id = string.match(KEYS[1], ':conv:(.*)$')
local at = tonumber(rcall('ZSCORE', KEYS[3], id))
if not at or at > a.now then return { 1, 0, 0, '[]', '' } end -- claimed by another node, or not due
local h = hgetall(KEYS[1])
local wakes = h.status == 'snoozed' and tonumber(h.snoozedUntil) == at
if wakes and not all_declared(moved_keys(KEYS[1], h, 'open')) then return needs_keys(h) end

-- writes start here
rcall('ZREM', KEYS[3], id)
if not wakes then return { 1, 1, 0, '[]', '' } end
rcall('HSET', KEYS[1], 'status', 'open', 'snoozedUntil', '', 'lastActivityAt', a.now)
set_list(KEYS[1], h, 'open', a.now)
local act = append_log(KEYS[1], KEYS[2], a.hotTail, activity(h, 'Conversation was reopened (snooze ended)', a.now, a.uid))
local view = conv_view(hgetall(KEYS[1]))
local changed = { 'status', 'snoozedUntil' }
emit(KEYS[4], 'message.created', h.accountId, a.uid, a.now, { message = act, conversation = view })
publish(KEYS[5], 'message.created', h, false, { message = act })
emit(KEYS[4], 'conversation.updated', h.accountId, a.uid .. ':c', a.now,
  { conversation = view, changed = changed, previousStatus = 'snoozed', actor = { type = 'system', id = NULL } })
publish(KEYS[5], 'conversation.updated', h, false, { conversation = view, changed = changed })
local woken = { { id = h.id, accountId = h.accountId, inboxId = h.inboxId, assigneeId = view.assigneeId } }
return { 1, 1, 1, cjson.encode(woken), cjson.encode(view) }
