-- Shared prelude, prepended by lua/scripts.ts to every script (one copy per script body, so each
-- script stays self-contained for EVALSHA). Helpers only: no key access of its own.
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

-- the protocol's Conversation object from its hash
local function conv_view(h)
  local c = {}
  for _, f in ipairs(CONV_FIELDS) do
    local v = h[f]
    if v == nil or v == '' then
      if f == 'unreadCount' then c[f] = 0
      elseif f == 'customAttributes' or f == 'additionalAttributes' then c[f] = cjson.decode('{}')
      else c[f] = NULL end
    elseif CONV_NUMBERS[f] then c[f] = tonumber(v)
    elseif CONV_JSON[f] then c[f] = cjson.decode(v)
    else c[f] = v end
  end
  return c
end

-- key of the inbox's conversation list for one status (mirrors keys.ts inboxStatusList)
local function status_list(convKey, inboxId, status)
  local tag = string.match(convKey, '^({p%d+})')
  return tag .. ':inbox:' .. inboxId .. ':st:' .. status
end

-- moves a conversation between status lists, scored by lastActivityAt
local function set_list(convKey, h, newStatus, score)
  if h.status and h.status ~= newStatus then rcall('ZREM', status_list(convKey, h.inboxId, h.status), h.id) end
  rcall('ZADD', status_list(convKey, h.inboxId, newStatus), score, h.id)
end

-- one entry on the partition event stream (fields as lua/codec.ts reads them)
local function emit(eventsKey, etype, accountId, uid, ts, data)
  return rcall('XADD', eventsKey, '*', 't', etype, 'a', accountId, 'u', uid, 'ts', tostring(ts), 'd', cjson.encode(data))
end

-- one fan-out notice on the partition channel: every engine node delivers it to its local sockets
--   t event type, a account, i inbox, c contact id (or ''), p private (agents only), d event data
local function publish(channel, etype, h, private, data)
  rcall('PUBLISH', channel, cjson.encode({ t = etype, a = h.accountId, i = h.inboxId, c = h.contactId or '',
    p = private and 1 or 0, d = data }))
end

-- appends a message to the conversation log (hot tail capped) and returns it with its stream id;
-- msgCount counts every entry ever appended, so XLEN < msgCount means the tail was trimmed
local function append_log(convKey, logKey, hotTail, msg)
  local id = rcall('XADD', logKey, 'MAXLEN', '~', hotTail, '*', 'm', cjson.encode(msg))
  rcall('HINCRBY', convKey, 'msgCount', 1)
  msg.id = id
  return msg
end

-- an activity (system) message in a conversation
local function activity(h, content, now, uid)
  return { conversationId = h.id, accountId = h.accountId, inboxId = h.inboxId, type = 'activity',
    content = content, contentType = 'text', contentAttributes = cjson.decode('{}'), private = false,
    echoId = NULL, sourceId = NULL, status = 'sent', sender = { type = 'system', id = NULL },
    createdAt = now, uid = uid }
end
