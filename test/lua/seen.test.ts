import t from 'tap'
import { json, markSeenCall, setConversationStatusCall, type MarkSeenInput } from '../../lua/scripts.js'
import { newUid } from '../../engine/ids.js'
import { scriptFixture } from './fixture.js'

t.test('markSeen', async (t) => {
  const f = await scriptFixture(t)
  const T0 = Date.now()
  const seenBy = (conversationId: string, role: 'agent' | 'contact', now: number, opts: Partial<MarkSeenInput> = {}) =>
    f.scripts.run(markSeenCall(f.k, {
      conversationId, accountId: f.account.id, role, viewerId: role === 'agent' ? f.agent.id : f.contact.id,
      inboxId: role === 'contact' ? f.inbox.id : null, inboxes: role === 'agent' ? [f.inbox.id] : null,
      now, uid: newUid(), throttleMs: 30_000, cap: 200, slackMs: 60_000, ...opts,
    }))

  const id = (await f.open(T0))['id'] as string
  await f.redis.hset(f.k.conversation(id), 'assigneeId', f.agent.id)
  const m1 = await f.send(id, T0 + 1)
  const m2 = await f.send(id, T0 + 2)
  await f.send(id, T0 + 3, { senderType: 'agent', content: 'a private note', private: true })
  const reply = await f.send(id, T0 + 4, { senderType: 'agent', content: 'an answer' })
  const answerId = json(reply, 1)['id']
  t.equal(await f.redis.hget(f.k.conversation(id), 'unreadCount'), '2')

  t.test('the assignee sees: seen times, unread reset, read receipts for the contact\'s messages, one archived event', async (t) => {
    const listener = await f.listen()
    const r = await seenBy(id, 'agent', T0 + 10)
    t.equal(r[0], 1)
    t.match(json(r, 1), { agentLastSeenAt: T0 + 10, assigneeLastSeenAt: T0 + 10, unreadCount: 0 })
    t.equal(r[2], 2, 'two receipts')
    t.equal(r[3], 1, 'archived')
    await listener.settle()
    const receipts = listener.notices.filter((n) => n['t'] === 'message.updated')
    t.same(receipts.map((n) => n['d']['message']['id']), [json(m1, 1)['id'], json(m2, 1)['id']], 'the contact\'s messages, in order')
    t.ok(receipts.every((n) => n['d']['message']['status'] === 'read' && n['p'] === 0 && n['d']['message']['type'] === 'incoming'))
    t.match(listener.notices.at(-1), { t: 'conversation.updated', d: { changed: ['agentLastSeenAt', 'assigneeLastSeenAt', 'unreadCount'] } })
    const archived = await f.events('conversation.seen')
    t.equal(archived.length, 1)
    t.match(archived[0]?.data, { viewer: { type: 'agent', id: f.agent.id }, seenAt: T0 + 10, conversation: { id, agentLastSeenAt: T0 + 10 } })
  })

  t.test('seen again within the throttle window: no new receipts, no archived event, still published', async (t) => {
    const listener = await f.listen()
    const r = await seenBy(id, 'agent', T0 + 20)
    t.equal(r[2], 0, 'nothing new to read')
    t.equal(r[3], 0, 'throttled')
    t.equal((await f.events('conversation.seen')).length, 1, 'still one archived event')
    t.match(json(r, 1), { agentLastSeenAt: T0 + 20 }, 'the live hash moved on')
    await listener.settle()
    t.same(listener.notices.map((n) => n['t']), ['conversation.updated'])
  })

  t.test('the throttle window ends: archived again', async (t) => {
    await f.redis.del(f.k.seenThrottle(id, `agent:${f.agent.id}`))
    t.equal((await seenBy(id, 'agent', T0 + 30))[3], 1)
    t.equal((await f.events('conversation.seen')).length, 2)
    t.ok(Number(await f.redis.pttl(f.k.seenThrottle(id, `agent:${f.agent.id}`))) > 29_000, 'the throttle key expires by itself')
  })

  t.test('an agent who is not the assignee sets agentLastSeenAt only', async (t) => {
    await f.send(id, T0 + 31)
    const r = await seenBy(id, 'agent', T0 + 40, { viewerId: f.outsider.id, inboxes: null })
    t.match(json(r, 1), { agentLastSeenAt: T0 + 40, assigneeLastSeenAt: T0 + 30, unreadCount: 1 })
    t.equal(r[2], 1, 'the new contact message is read')
  })

  t.test('the contact sees: receipts for the agent\'s public messages only, never the private note', async (t) => {
    const listener = await f.listen()
    const r = await seenBy(id, 'contact', T0 + 50)
    t.match(json(r, 1), { contactLastSeenAt: T0 + 50 })
    t.equal(r[2], 1)
    await listener.settle()
    const receipts = listener.notices.filter((n) => n['t'] === 'message.updated')
    t.same(receipts.map((n) => n['d']['message']['id']), [answerId], 'only the public answer')
    t.equal(receipts[0]?.['p'], 0)
    t.match(listener.notices.at(-1), { t: 'conversation.updated', d: { changed: ['contactLastSeenAt'] } })
    t.equal((await f.events('conversation.seen')).filter((e) => (e.data['viewer'] as Record<string, unknown>)['type'] === 'contact').length, 1,
      'the contact has its own throttle')
  })

  t.test('activity messages are never receipted', async (t) => {
    await f.scripts.run(setConversationStatusCall(f.k, {
      conversationId: id, accountId: f.account.id, inboxes: null, agentId: f.agent.id, agentName: 'Ada',
      status: 'pending', snoozedUntil: null, now: T0 + 60, uid: newUid(), hotTail: 1000,
    }))
    t.equal((await seenBy(id, 'contact', T0 + 70))[2], 0)
  })

  t.test('the receipts are capped', async (t) => {
    for (let i = 0; i < 5; i++) await f.send(id, T0 + 80 + i)
    const r = await seenBy(id, 'agent', T0 + 90, { cap: 3 })
    t.equal(r[2], 3)
  })

  t.test('not found and forbidden', async (t) => {
    t.same(await seenBy('cv_doesnotexist0000000000', 'agent', T0), [-1])
    t.same(await seenBy(id, 'agent', T0, { accountId: 'a_someoneelse000000000000' }), [-1], "another account's conversation")
    t.same(await seenBy(id, 'agent', T0, { inboxes: [f.otherInbox.id] }), [-2], 'an inbox the agent is not in')
    t.same(await seenBy(id, 'contact', T0, { viewerId: 'ct_someoneelse00000000000' }), [-2], "another contact's conversation")
    t.same(await seenBy(id, 'contact', T0, { inboxId: f.otherInbox.id }), [-2], 'the contact through another inbox')
  })
})
