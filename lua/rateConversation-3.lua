-- rateConversation: the contact rates its resolved conversation (CSAT), once.
-- KEYS[1] hash    conversation
-- KEYS[2] stream  partition events
-- KEYS[3] stream  partition notice log (fan-out: logged, then PUBLISHed on this key without ':log')
-- ARGV[1] msgpack { accountId, contactId, inboxId (the contact's inbox), score (1..5), comment, now, uid }
-- Reply: { 1, conversationJSON } rated | { -1 } not found | { -2 } forbidden
--        | { -4, message } not resolved, or already rated
local a = cmsgpack.unpack(ARGV[1])
local h = hgetall(KEYS[1])
if h.id == nil or h.accountId ~= a.accountId then return { -1 } end
if h.contactId ~= a.contactId or h.inboxId ~= a.inboxId then return { -2 } end
if h.status ~= 'resolved' then return { -4, 'only a resolved conversation can be rated' } end
if h.rating ~= nil and h.rating ~= '' then return { -4, 'this conversation was already rated' } end

local rating = { score = a.score, comment = a.comment or NULL, ratedAt = a.now }
rcall('HSET', KEYS[1], 'rating', cjson.encode(rating))
local view = conv_view(hgetall(KEYS[1]))
local changed = { 'rating' }
emit(KEYS[2], 'conversation.rated', h.accountId, a.uid, a.now, { conversationId = h.id, inboxId = h.inboxId,
  contactId = h.contactId, agentId = (h.assigneeId ~= nil and h.assigneeId ~= '') and h.assigneeId or NULL,
  score = a.score, comment = rating.comment, ratedAt = a.now, conversation = view })
emit(KEYS[2], 'conversation.updated', h.accountId, a.uid .. ':c', a.now, { conversation = view, changed = changed })
publish(KEYS[3], 'conversation.updated', h, false, { conversation = view, changed = changed })
return { 1, cjson.encode(view) }
