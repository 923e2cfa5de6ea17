-- updateConversation: an agent sets priority, customAttributes, branch and/or region. Fields left
-- out stay; a field whose value does not change is not reported. Every field here is agent-only,
-- so the fan-out notice is private (the contact's view carries none of them).
-- KEYS[1] hash    conversation
-- KEYS[2] stream  partition events
-- KEYS[3] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- ARGV[1] msgpack { accountId, inboxes (allowed inbox ids; absent = all), now, uid,
--   priority, customAttributes (JSON text), branch, region: each absent = keep, '' = null }
-- Reply: { 1, conversationJSON, changedJSON } changed | { 2, conversationJSON, '[]' } nothing changed
--        | { -1 } not found | { -2 } forbidden
local a = cmsgpack.unpack(ARGV[1])
local h = hgetall(KEYS[1])
if h.id == nil or h.accountId ~= a.accountId then return { -1 } end
if not inbox_allowed(a.inboxes, h.inboxId) then return { -2 } end

local fields = {}
local changed = {}
for _, f in ipairs({ 'priority', 'customAttributes', 'branch', 'region' }) do
  local v = a[f]
  if v ~= nil then
    local cur = h[f] or ''
    if f == 'customAttributes' and cur == '' then cur = '{}' end
    if cur ~= v then
      table.insert(fields, f); table.insert(fields, v); table.insert(changed, f)
    end
  end
end
if #changed == 0 then return { 2, cjson.encode(conv_view(h)), '[]' } end

rcall('HSET', KEYS[1], unpack(fields))
local view = conv_view(hgetall(KEYS[1]))
emit(KEYS[2], 'conversation.updated', h.accountId, a.uid, a.now, { conversation = view, changed = changed })
publish(KEYS[3], 'conversation.updated', h, true, { conversation = view, changed = changed })
return { 1, cjson.encode(view), cjson.encode(changed) }
