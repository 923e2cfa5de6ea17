-- Shared prelude, prepended by lua/scripts.ts to every script (one copy per script body, so each
-- script stays self-contained for EVALSHA). Helpers only: no key access of its own. scripts.ts
-- puts lines before it: `local PUBLISH = 'PUBLISH'` (one instance) or 'SPUBLISH' (a cluster: a
-- shard channel in the partition's slot), and NOTICE_LOG_MS.
local rcall = redis.call
local NULL = cjson.null

-- conversation hash fields that are numbers (ms times and counters)
local CONV_NUMBERS = { displayId = true, waitingSince = true, firstReplyCreatedAt = true, lastActivityAt = true,
  agentLastSeenAt = true, assigneeLastSeenAt = true, contactLastSeenAt = true, snoozedUntil = true,
  unreadCount = true, createdAt = true, msgCount = true }
local CONV_JSON = { customAttributes = true, additionalAttributes = true, rating = true }
local CONV_FIELDS = { 'id', 'displayId', 'accountId', 'inboxId', 'contactId', 'status', 'priority', 'assigneeId',
  'waitingSince', 'firstReplyCreatedAt', 'lastActivityAt', 'agentLastSeenAt', 'assigneeLastSeenAt',
  'contactLastSeenAt', 'snoozedUntil', 'unreadCount', 'customAttributes', 'additionalAttributes', 'branch',
  'region', 'rating', 'createdAt' }

-- HGETALL as a Lua table (empty table when the key is missing)
local function hgetall(key)
  local flat = rcall('HGETALL', key)
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h
end

-- does hash `h` hold exactly the fields and values of `expected` (the state a caller verified)?
local function same_hash(h, expected)
  local n = 0
  for f, v in pairs(h) do
    n = n + 1
    if expected[f] ~= v then return false end
  end
  for _ in pairs(expected) do n = n - 1 end
  return n == 0
end

-- may an agent limited to `inboxes` (nil = all of the account's) touch this conversation?
local function inbox_allowed(inboxes, inboxId)
  if not inboxes then return true end
  for _, id in ipairs(inboxes) do if id == inboxId then return true end end
  return false
end

-- the protocol's Conversation object from its hash
local function conv_view(h)
  local c = {}
  for _, f in ipairs(CONV_FIELDS) do
    local v = h[f]
    if v == nil or v == '' then
      if f == 'unreadCount' then c[f] = 0
      elseif f == 'customAttributes' or f == 'additionalAttributes' then c[f] = {} -- cjson encodes an empty table as {}
      else c[f] = NULL end
    elseif CONV_NUMBERS[f] then c[f] = tonumber(v)
    elseif CONV_JSON[f] then c[f] = v == '{}' and {} or cjson.decode(v)
    else c[f] = v end
  end
  return c
end

-- what a message changes of a conversation, with the fields its consumers read: the archiver's
-- PostgreSQL row takes lastActivityAt, reports read createdAt, firstReplyCreatedAt, inboxId and
-- assigneeId, the engine's declared-keys hint inboxId, status, assigneeId and contactId. The
-- partition event of a message carries this instead of the whole view, flagged `partial`
-- (archiver/project.ts), and a caller that asks for it gets it as its reply.
local function ms_or_null(v) return tonumber(v) or NULL end
local function conv_brief(h)
  return { partial = true, id = h.id, inboxId = h.inboxId, contactId = h.contactId or NULL, status = h.status,
    assigneeId = (h.assigneeId ~= nil and h.assigneeId ~= '') and h.assigneeId or NULL, createdAt = ms_or_null(h.createdAt),
    firstReplyCreatedAt = ms_or_null(h.firstReplyCreatedAt), lastActivityAt = ms_or_null(h.lastActivityAt) }
end

-- are all these keys among the script's KEYS? (a script that writes a key it did not declare
-- is aborted half-way by Redis Cluster when that key's slot is migrating and the key has moved)
local function all_declared(keys)
  local declared = {}
  for _, k in ipairs(KEYS) do declared[k] = true end
  for _, k in ipairs(keys) do if not declared[k] then return false end end
  return true
end

-- key of the inbox's conversation list for one status (mirrors keys.ts inboxStatusList)
local function status_list(convKey, inboxId, status)
  local tag = string.match(convKey, '^({[^}]*})')
  return tag .. ':inbox:' .. inboxId .. ':st:' .. status
end

-- an agent's open assigned conversations (its load for maxConversations), mirrors keys.ts agentOpen
local function agent_open_key(convKey, agentId)
  return string.match(convKey, '^({[^}]*})') .. ':agent:' .. agentId .. ':open'
end

-- the derived keys set_list touches moving conversation h to status `to`: its status list, the new
-- one, its assignee's load (mirrors lua/scripts.ts movedKeys, which declares them from a hint)
local function moved_keys(convKey, h, to)
  local keys = { status_list(convKey, h.inboxId, h.status) }
  if to ~= h.status then table.insert(keys, status_list(convKey, h.inboxId, to)) end
  if h.assigneeId and h.assigneeId ~= '' then table.insert(keys, agent_open_key(convKey, h.assigneeId)) end
  return keys
end

-- the answer when the declared keys are not the ones the script needs, before any write: the
-- conversation's state (and `extra`) as the hint lua/scripts.ts rebuilds the call from (NEEDS_KEYS)
local function needs_keys(h, extra)
  local hint = { inboxId = h.inboxId, status = h.status, assigneeId = h.assigneeId or '', contactId = h.contactId or '' }
  for f, v in pairs(extra or {}) do hint[f] = v end
  return { -9, cjson.encode(hint) }
end

-- moves a conversation between status lists, scored by lastActivityAt, and keeps the assignee's
-- load in step: every status change of every script passes through here
local function set_list(convKey, h, newStatus, score)
  if h.status and h.status ~= newStatus then rcall('ZREM', status_list(convKey, h.inboxId, h.status), h.id) end
  rcall('ZADD', status_list(convKey, h.inboxId, newStatus), score, h.id)
  if h.assigneeId and h.assigneeId ~= '' then
    if newStatus == 'open' then rcall('ZADD', agent_open_key(convKey, h.assigneeId), score, h.id)
    else rcall('ZREM', agent_open_key(convKey, h.assigneeId), h.id) end
  end
end

-- one entry on the partition event stream (fields as lua/codec.ts reads them); `dataJson` is the
-- event data already encoded (the hot path splices JSON it has encoded once: append_log's message)
local function emit_json(eventsKey, etype, accountId, uid, ts, dataJson)
  return rcall('XADD', eventsKey, '*', 't', etype, 'a', accountId, 'u', uid, 'ts', tostring(ts), 'd', dataJson)
end
local function emit(eventsKey, etype, accountId, uid, ts, data)
  return emit_json(eventsKey, etype, accountId, uid, ts, cjson.encode(data))
end

-- NOTICE_LOG_MS (prepended by lua/scripts.ts from lua/codec.ts): how long the partition's notice
-- log keeps a notice, in ms of Redis time. A node whose subscription dropped catches up from the log
-- (engine/fanout/sequencer.ts) when it comes back within it; past it, its clients of the partition
-- are told to reconnect and resume.
local notice_minid = nil

-- one fan-out notice: appended to the partition's notice log (a stream trimmed to NOTICE_LOG_MS),
-- then published on the partition channel (the log key without its ':log' suffix) prefixed with its
-- log id, so every engine node delivers it to its local sockets once, in log order, and a node that
-- missed some while its subscription was down reads them back from the log.
-- Format (lua/codec.ts): '<log id> ' then the header JSON { t type, a account, i inbox, c contact id
-- or '', p 1 = agents only }, a newline, then the event data JSON.
local function publish_json(logKey, etype, h, private, dataJson)
  local body = cjson.encode({ t = etype, a = h.accountId, i = h.inboxId, c = h.contactId or '',
    p = private and 1 or 0 }) .. '\n' .. dataJson
  if not notice_minid then
    local now = rcall('TIME')
    notice_minid = tostring(tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - NOTICE_LOG_MS)
  end
  local id = rcall('XADD', logKey, 'MINID', '~', notice_minid, '*', 'n', body)
  rcall(PUBLISH, string.sub(logKey, 1, -5), id .. ' ' .. body)
end
local function publish(logKey, etype, h, private, data)
  publish_json(logKey, etype, h, private, cjson.encode(data))
end

-- createdAt of the newest message in the conversation log (0 for an empty log): the hash's
-- lastMessageAt, or, for a log written before that field existed (or restored from PostgreSQL),
-- its newest entry, read once
local function last_message_at(convKey, logKey)
  local at = tonumber(rcall('HGET', convKey, 'lastMessageAt'))
  if at then return at end
  local newest = rcall('XREVRANGE', logKey, '+', '-', 'COUNT', 1)[1]
  if not newest then return 0 end
  return tonumber(cjson.decode(newest[2][2]).createdAt) or 0
end

-- appends a message to the conversation log (hot tail capped) and returns it with its stream id,
-- and its JSON with the id (the log entry's JSON, encoded once, with the id spliced in first);
-- msgCount counts every entry ever appended, so XLEN < msgCount means the tail was trimmed.
-- A message is never dated before the one before it (a request held through an outage, another
-- node's clock): createdAt = max(its time, the previous message's createdAt).
-- (append_entry is the log write alone: a caller that writes the conversation hash anyway keeps
-- msgCount and lastMessageAt itself, in that one HSET)
local function append_entry(logKey, hotTail, msg)
  local entry = cjson.encode(msg)
  local id = rcall('XADD', logKey, 'MAXLEN', '~', hotTail, '*', 'm', entry)
  msg.id = id
  return msg, '{"id":"' .. id .. '",' .. string.sub(entry, 2)
end
local function append_log(convKey, logKey, hotTail, msg)
  local prev = last_message_at(convKey, logKey)
  if msg.createdAt < prev then msg.createdAt = prev end
  local m, json = append_entry(logKey, hotTail, msg)
  rcall('HINCRBY', convKey, 'msgCount', 1)
  rcall('HSET', convKey, 'lastMessageAt', m.createdAt)
  return m, json
end

-- an activity (system) message in a conversation
local function activity(h, content, now, uid)
  return { conversationId = h.id, accountId = h.accountId, inboxId = h.inboxId, type = 'activity',
    content = content, contentType = 'text', contentAttributes = cjson.decode('{}'), private = false,
    echoId = NULL, sourceId = NULL, status = 'sent', sender = { type = 'system', id = NULL },
    createdAt = now, uid = uid }
end

-- ---- presence and assignment -----------------------------------------------------------------

-- is the agent connected (a heartbeat within the grace window) and `availability: online`?
local function agent_available(presenceKey, availKey, agentId, now, graceMs)
  local beat = rcall('ZSCORE', presenceKey, agentId)
  if not beat or tonumber(beat) <= now - graceMs then return false end
  local av = rcall('HGET', availKey, agentId)
  return (not av) or av == 'online'
end

-- under its maxConversations cap (open conversations assigned to it)?
local function agent_has_capacity(tag, agentId)
  local cap = rcall('HGET', tag .. ':agent:' .. agentId, 'maxConversations')
  if not cap or cap == '' then return true end
  return rcall('ZCARD', tag .. ':agent:' .. agentId .. ':open') < tonumber(cap)
end

-- syncs the inbox rotation with `members` (new members first: they were never assigned) and returns
-- the first agent of the rotation who is available and under the cap, or nil. The list is written so
-- that it is never emptied and then written again (a key a script deleted and touches again aborts it
-- half-way while its slot migrates): new members are pushed before leavers are removed.
local function rr_pick(tag, rrKey, members, presenceKey, availKey, now, graceMs)
  local isMember = {}
  for _, m in ipairs(members) do isMember[m] = true end
  local kept, inRotation, leavers = {}, {}, {}
  for _, id in ipairs(rcall('LRANGE', rrKey, 0, -1)) do
    if isMember[id] then table.insert(kept, id); inRotation[id] = true else table.insert(leavers, id) end
  end
  local rotation = {}
  for _, m in ipairs(members) do
    if not inRotation[m] then rcall('LPUSH', rrKey, m); table.insert(rotation, 1, m) end
  end
  for _, id in ipairs(leavers) do rcall('LREM', rrKey, 0, id) end
  for _, id in ipairs(kept) do table.insert(rotation, id) end
  for _, id in ipairs(rotation) do
    if agent_available(presenceKey, availKey, id, now, graceMs) and agent_has_capacity(tag, id) then return id end
  end
  return nil
end

-- the picked agent goes to the back of the rotation (pushed before its old place is removed: the
-- list is never emptied on the way)
local function rr_rotate(rrKey, agentId)
  rcall('RPUSH', rrKey, agentId)
  rcall('LREM', rrKey, 1, agentId)
end

-- sets (or clears, agentId '') the assignee with an activity message, events and fan-out
local function assign_to(convKey, logKey, eventsKey, channel, h, agentId, text, now, uid, hotTail)
  local old = h.assigneeId or ''
  if old ~= '' then rcall('ZREM', agent_open_key(convKey, old), h.id) end
  rcall('HSET', convKey, 'assigneeId', agentId, 'assigneeLastSeenAt', '')
  if agentId ~= '' and h.status == 'open' then rcall('ZADD', agent_open_key(convKey, agentId), now, h.id) end
  local view = conv_view(hgetall(convKey))
  local act = append_log(convKey, logKey, hotTail, activity(h, text, now, uid .. ':a'))
  emit(eventsKey, 'message.created', h.accountId, uid .. ':a', now, { message = act, conversation = view })
  publish(channel, 'message.created', h, false, { message = act })
  local changed = { 'assigneeId' }
  emit(eventsKey, 'conversation.updated', h.accountId, uid, now, { conversation = view, changed = changed })
  publish(channel, 'conversation.updated', h, false, { conversation = view, changed = changed })
  return view
end

local function agent_name(tag, agentId)
  return rcall('HGET', tag .. ':agent:' .. agentId, 'name') or 'an agent'
end
