import t from 'tap'
import { Redis } from 'ioredis'
import { keysFor, partitionOf } from '../../lua/keys.js'
import { appendMessageCall, assignConversationCall, createConversationCall, createScripts, json, setConversationStatusCall, type AppendMessageInput } from '../../lua/scripts.js'
import { startTestRedis } from '../helpers/stack.js'

const ACCT = 'a_AAAAAAAAAAAAAAAAAAAAAA'
const OTHER = 'a_BBBBBBBBBBBBBBBBBBBBBB'
const k = keysFor(partitionOf(ACCT, 16))
let seq = 0
const uid = () => `u${++seq}`

t.test('appendMessage', async (t) => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.quit())
  const scripts = createScripts(redis)

  async function newConversation(now = 1_000): Promise<string> {
    const id = `cv_${String(++seq).padStart(22, '0')}`
    const r = await scripts.run(createConversationCall(k, { id, accountId: ACCT, inboxId: 'in_1', contactId: 'ct_1', now, uid: uid(), additionalAttributes: '{}' }))
    t.equal(r[0], 1)
    await redis.del(k.contactConversation('ct_1', 'in_1')) // each test gets a fresh conversation
    return id
  }
  const base = (conversationId: string, over: Partial<AppendMessageInput> = {}): AppendMessageInput => ({
    conversationId, inboxId: 'in_1', accountId: ACCT, senderType: 'contact', senderId: 'ct_1', inboxes: null,
    content: 'hello', contentType: 'text', contentAttributes: '{}', private: false, echoId: null, sourceId: null,
    now: 2_000, uid: uid(), reopenUid: uid(), floodLimit: 3, hotTail: 1000, dedupeTtlMs: 60_000, sourceTtlMs: 60_000, ...over,
  })
  const conv = async (id: string) => redis.hgetall(k.conversation(id))

  t.test('1: appended, with stream id and conversation fields', async (t) => {
    const id = await newConversation()
    await redis.hset(k.conversation(id), 'waitingSince', '')
    const r = await scripts.run(appendMessageCall(k, base(id)))
    t.equal(r[0], 1)
    const msg = json(r, 1)
    t.match(msg, { id: /^\d+-\d+$/, type: 'incoming', content: 'hello', status: 'sent', sender: { type: 'contact', id: 'ct_1' }, createdAt: 2000, private: false })
    t.match(json(r, 2), { id, waitingSince: 2000, lastActivityAt: 2000, unreadCount: 1 })
    t.equal(await redis.xlen(k.conversationLog(id)), 1)
    t.equal(await redis.zscore(k.inboxStatusList('in_1', 'open'), id), '2000')
  })

  t.test('waitingSince kept by later incoming, cleared by an agent reply; firstReplyCreatedAt once', async (t) => {
    const id = await newConversation(1_000)
    t.equal((await conv(id))['waitingSince'], '1000', 'set at creation')
    await scripts.run(appendMessageCall(k, base(id, { now: 1_500 })))
    t.equal((await conv(id))['waitingSince'], '1000', 'an incoming message does not move it')
    const note = await scripts.run(appendMessageCall(k, base(id, { senderType: 'agent', senderId: 'ag_1', private: true, now: 1_600 })))
    t.equal(json(note, 1)['private'], true)
    t.equal((await conv(id))['waitingSince'], '1000', 'a private note is not a reply')
    t.equal((await conv(id))['firstReplyCreatedAt'] ?? '', '')
    await scripts.run(appendMessageCall(k, base(id, { senderType: 'agent', senderId: 'ag_1', now: 1_700 })))
    t.match(await conv(id), { waitingSince: '', firstReplyCreatedAt: '1700', lastActivityAt: '1700' })
    await scripts.run(appendMessageCall(k, base(id, { senderType: 'agent', senderId: 'ag_1', now: 1_800 })))
    t.equal((await conv(id))['firstReplyCreatedAt'], '1700', 'set only by the first reply')
    await scripts.run(appendMessageCall(k, base(id, { now: 1_900 })))
    t.equal((await conv(id))['waitingSince'], '1900', 'the next incoming message starts a new wait')
    // the archived event of the reply carries the wait it ended (for reply_time)
    const events = await redis.xrange(k.events, '-', '+')
    const replies = events.map(([, f]) => JSON.parse(f[f.indexOf('d') + 1] as string) as { message?: { createdAt: number }; waitedSince?: number | null })
      .filter((d) => d.message?.createdAt === 1_700)
    t.equal(replies[0]?.waitedSince, 1000)
  })

  t.test('an incoming message reopens a resolved conversation with an activity message', async (t) => {
    const id = await newConversation()
    await redis.hset(k.conversation(id), 'status', 'resolved')
    await redis.zrem(k.inboxStatusList('in_1', 'open'), id)
    await redis.zadd(k.inboxStatusList('in_1', 'resolved'), 1000, id)
    const r = await scripts.run(appendMessageCall(k, base(id)))
    t.equal(json(r, 2)['status'], 'open')
    const log = await redis.xrange(k.conversationLog(id), '-', '+')
    t.equal(log.length, 2)
    t.match(JSON.parse(log[1]?.[1][1] as string), { type: 'activity', content: /reopened/ })
    t.equal(await redis.zscore(k.inboxStatusList('in_1', 'resolved'), id), null)
    t.equal(await redis.zscore(k.inboxStatusList('in_1', 'open'), id), '2000')
  })

  t.test('2: a repeated echoId or sourceId returns the first message and writes nothing', async (t) => {
    const id = await newConversation()
    const first = await scripts.run(appendMessageCall(k, base(id, { echoId: 'e1' })))
    const events = await redis.xlen(k.events)
    const again = await scripts.run(appendMessageCall(k, base(id, { echoId: 'e1', content: 'changed', now: 9_000 })))
    t.equal(again[0], 2)
    t.same(json(again, 1), json(first, 1))
    const src1 = await scripts.run(appendMessageCall(k, base(id, { sourceId: 'ext-1' })))
    const src2 = await scripts.run(appendMessageCall(k, base(id, { sourceId: 'ext-1', content: 'other' })))
    t.same(src2, [5, `${id} ${json(src1, 1)['id'] as string}`], 'a repeated sourceId: where its first message is, for the caller to read')
    t.equal(await redis.get(k.sourceDedupe('in_1', 'ext-1')), `${id} ${json(src1, 1)['id'] as string}`, 'the dedupe key holds two ids, not the message')
    t.equal(await redis.xlen(k.conversationLog(id)), 2)
    t.equal(await redis.xlen(k.events), events + 1, 'only the first sourceId message added an event')
  })

  t.test('2: the echo hash keeps the first message id, and a repeat re-reads the message from the log', async (t) => {
    const id = await newConversation()
    const content = 'x'.repeat(10_000)
    const first = await scripts.run(appendMessageCall(k, base(id, { echoId: 'big', content, contentAttributes: '{"inReplyTo":"1-0","n":[1,2.5]}' })))
    const msg = json(first, 1)
    t.equal(await redis.hget(k.conversationEchoes(id), 'contact:ct_1:big'), msg['id'], 'the dedupe entry is the stream id')
    t.ok((await redis.hstrlen(k.conversationEchoes(id), 'contact:ct_1:big')) < 32, 'not the 10 KB message')
    t.ok((await redis.pttl(k.conversationEchoes(id))) > 0, 'with its TTL')
    await scripts.run(appendMessageCall(k, base(id, { senderType: 'agent', senderId: 'ag_1', content: 'in between' })))
    const again = await scripts.run(appendMessageCall(k, base(id, { echoId: 'big', content: 'retry', now: 9_000 })))
    t.equal(again[0], 2)
    t.same(json(again, 1), msg, 'the first message, every field, id included')
    t.match(json(again, 2), { id, unreadCount: 1 }, 'with the conversation as it is now')
    t.equal(await redis.xlen(k.conversationLog(id)), 2, 'nothing appended')
    // the same echoId from another sender is another message
    const other = await scripts.run(appendMessageCall(k, base(id, { echoId: 'big', senderType: 'agent', senderId: 'ag_1' })))
    t.equal(other[0], 1)
  })

  t.test('2: an echo entry written before this change (the message JSON) is still answered as is', async (t) => {
    const id = await newConversation()
    const legacy = JSON.stringify({ id: '1-0', conversationId: id, content: 'from before', echoId: 'old' })
    await redis.hset(k.conversationEchoes(id), 'contact:ct_1:old', legacy)
    const r = await scripts.run(appendMessageCall(k, base(id, { echoId: 'old' })))
    t.equal(r[0], 2)
    t.same(json(r, 1), JSON.parse(legacy))
    t.equal(await redis.xlen(k.conversationLog(id)), 0)
  })

  t.test('3: a repeat whose first message left the hot tail answers its id and writes nothing', async (t) => {
    const id = await newConversation()
    const first = json(await scripts.run(appendMessageCall(k, base(id, { echoId: 'gone', hotTail: 10 }))), 1)
    for (let i = 0; i < 250; i++) await scripts.run(appendMessageCall(k, base(id, { senderType: 'agent', senderId: 'ag_1', hotTail: 10 })))
    t.same(await redis.xrange(k.conversationLog(id), first['id'] as string, first['id'] as string), [], 'trimmed from the log')
    const before = { log: await redis.xlen(k.conversationLog(id)), events: await redis.xlen(k.events), conv: await conv(id) }
    const r = await scripts.run(appendMessageCall(k, base(id, { echoId: 'gone', hotTail: 10 })))
    t.equal(r.length, 3)
    t.equal(r[0], 3)
    t.equal(r[1], first['id'], 'the first message id, for the archive lookup')
    t.match(json(r, 2), { id }, 'and the conversation')
    t.same({ log: await redis.xlen(k.conversationLog(id)), events: await redis.xlen(k.events), conv: await conv(id) }, before)
  })

  t.test('-3: the flood rule refuses and writes nothing', async (t) => {
    const id = await newConversation()
    for (let i = 0; i < 3; i++) t.equal((await scripts.run(appendMessageCall(k, base(id, { now: 10_000 + i }))))[0], 1)
    const before = { log: await redis.xlen(k.conversationLog(id)), events: await redis.xlen(k.events), conv: await conv(id) }
    const refused = await scripts.run(appendMessageCall(k, base(id, { now: 20_000 })))
    t.same(refused, [-3, 50_000], 'retry when the oldest leaves the sliding minute')
    t.same({ log: await redis.xlen(k.conversationLog(id)), events: await redis.xlen(k.events), conv: await conv(id) }, before)
    t.equal((await scripts.run(appendMessageCall(k, base(id, { senderType: 'agent', senderId: 'ag_1', now: 20_000 }))))[0], 1, 'agents are not flood limited')
    t.equal((await scripts.run(appendMessageCall(k, base(id, { now: 70_001 }))))[0], 1, 'the window slides')
  })

  t.test('-1 / -2: other accounts and other contacts', async (t) => {
    const id = await newConversation()
    t.same(await scripts.run(appendMessageCall(k, base(id, { accountId: OTHER }))), [-1])
    t.same(await scripts.run(appendMessageCall(k, base('cv_missing'))), [-1])
    t.same(await scripts.run(appendMessageCall(k, base(id, { senderId: 'ct_2' }))), [-2])
    t.same(await scripts.run(appendMessageCall(k, base(id, { senderType: 'agent', senderId: 'ag_1', inboxes: ['in_2'] }))), [-2])
    t.equal(await redis.xlen(k.conversationLog(id)), 0)
  })

  t.test('the hot tail is capped', async (t) => {
    const id = await newConversation()
    for (let i = 0; i < 300; i++) await scripts.run(appendMessageCall(k, base(id, { senderType: 'agent', senderId: 'ag_1', hotTail: 100 })))
    const len = await redis.xlen(k.conversationLog(id))
    t.ok(len >= 100 && len < 300, `log length ${len} is capped near 100`)
    t.equal((await conv(id))['msgCount'], '300')
  })

  // issue 10, item 8: a request held through an outage arrives late; the log never goes back in time
  t.test('createdAt never goes back before the previous message, for every script that appends', async (t) => {
    const id = await newConversation(1_000)
    const createdAt = async () => {
      const entries = (await redis.xrange(k.conversationLog(id), '-', '+')) as [string, string[]][]
      return entries.map(([, f]) => (JSON.parse(f[1] ?? '{}') as { createdAt: number }).createdAt)
    }
    t.equal(json(await scripts.run(appendMessageCall(k, base(id, { floodLimit: 100, now: 5_000 }))), 1)['createdAt'], 5_000)
    const held = await scripts.run(appendMessageCall(k, base(id, { floodLimit: 100, now: 3_000 })))
    t.equal(json(held, 1)['createdAt'], 5_000, 'a late append takes the previous message\'s time')
    t.match(json(held, 2), { lastActivityAt: 5_000 }, 'and so does the conversation')
    t.equal(json(await scripts.run(appendMessageCall(k, base(id, { floodLimit: 100, now: 6_000 }))), 1)['createdAt'], 6_000, 'later times are kept')

    const status = (s: 'resolved' | 'open', now: number) => scripts.run(setConversationStatusCall(k, {
      conversationId: id, accountId: ACCT, inboxes: null, agentId: 'ag_1', agentName: 'Ann', status: s, snoozedUntil: null, now, uid: uid(), hotTail: 1000,
    }))
    t.equal((await status('resolved', 4_000))[0], 1)
    const reopen = await scripts.run(appendMessageCall(k, base(id, { floodLimit: 100, now: 4_500 })))
    t.equal(reopen[3], 1, 'the message reopened the conversation')
    t.equal(json(reopen, 1)['createdAt'], 6_000)
    await redis.sadd(k.inboxAgents('in_1'), 'ag_1')
    const assigned = await scripts.run(assignConversationCall(k, {
      conversationId: id, inboxId: 'in_1', accountId: ACCT, inboxes: null, actorId: 'ag_1', actorName: 'Ann', assigneeId: 'ag_1', expectedAssigneeId: null, now: 2_000, uid: uid(), hotTail: 1000,
    }))
    t.equal(assigned[0], 1)
    const times = await createdAt()
    t.equal(times.length, 7, 'three messages, resolve activity, message, reopen activity, assign activity')
    t.same(times, [5_000, 5_000, 6_000, 6_000, 6_000, 6_000, 6_000], 'activity messages are never dated back either')
    t.same(times, [...times].sort((a, b) => a - b))

    // a log written before lastMessageAt existed (or restored from PostgreSQL): its newest entry counts
    await redis.hdel(k.conversation(id), 'lastMessageAt')
    await redis.xadd(k.conversationLog(id), '*', 'm', JSON.stringify({ conversationId: id, content: 'old', createdAt: 9_000 }))
    t.equal(json(await scripts.run(appendMessageCall(k, base(id, { floodLimit: 100, now: 7_000 }))), 1)['createdAt'], 9_000)
  })
})
