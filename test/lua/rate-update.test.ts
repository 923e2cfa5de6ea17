import t from 'tap'
import { json, rateConversationCall, setConversationStatusCall, updateConversationCall, type RateConversationInput, type UpdateConversationInput } from '../../lua/scripts.js'
import { newUid } from '../../engine/ids.js'
import { scriptFixture } from './fixture.js'

t.test('rateConversation', async (t) => {
  const f = await scriptFixture(t)
  const T0 = Date.now()
  const rate = (conversationId: string, opts: Partial<RateConversationInput> = {}) => f.scripts.run(rateConversationCall(f.k, {
    conversationId, accountId: f.account.id, contactId: f.contact.id, inboxId: f.inbox.id, score: 4, comment: 'quick, thanks',
    now: T0 + 100, uid: newUid(), ...opts,
  }))
  const id = (await f.open(T0))['id'] as string
  await f.redis.hset(f.k.conversation(id), 'assigneeId', f.agent.id)

  t.same(await rate(id), [-4, 'only a resolved conversation can be rated'], 'an open conversation')
  await f.scripts.run(setConversationStatusCall(f.k, {
    conversationId: id, accountId: f.account.id, inboxes: null, agentId: f.agent.id, agentName: 'Ada',
    status: 'resolved', snoozedUntil: null, now: T0 + 50, uid: newUid(), hotTail: 1000,
  }))
  t.same(await rate('cv_doesnotexist0000000000'), [-1])
  t.same(await rate(id, { accountId: 'a_someoneelse000000000000' }), [-1], "another account's conversation")
  t.same(await rate(id, { contactId: 'ct_someoneelse00000000000' }), [-2], "another contact's conversation")
  t.same(await rate(id, { inboxId: f.otherInbox.id }), [-2], 'through another inbox')

  const listener = await f.listen()
  const r = await rate(id)
  t.equal(r[0], 1)
  t.match(json(r, 1), { rating: { score: 4, comment: 'quick, thanks', ratedAt: T0 + 100 } })
  t.same(await rate(id, { score: 1 }), [-4, 'this conversation was already rated'], 'rated twice')
  const rated = await f.events('conversation.rated')
  t.equal(rated.length, 1)
  t.match(rated[0]?.data, { conversationId: id, inboxId: f.inbox.id, contactId: f.contact.id, agentId: f.agent.id, score: 4, comment: 'quick, thanks', ratedAt: T0 + 100 })
  t.match((await f.events('conversation.updated')).at(-1)?.data, { changed: ['rating'], conversation: { rating: { score: 4 } } })
  await listener.settle()
  t.match(listener.notices, [{ t: 'conversation.updated', p: 0, d: { changed: ['rating'] } }])

  const other = (await f.open(T0, (await f.directory.createContact(f.account.id, f.inbox.id, null)).id))['id'] as string
  await f.scripts.run(setConversationStatusCall(f.k, {
    conversationId: other, accountId: f.account.id, inboxes: null, agentId: f.agent.id, agentName: 'Ada',
    status: 'resolved', snoozedUntil: null, now: T0 + 50, uid: newUid(), hotTail: 1000,
  }))
  const contactId = await f.redis.hget(f.k.conversation(other), 'contactId') ?? ''
  const r2 = await rate(other, { contactId, comment: null, score: 5 })
  t.match(json(r2, 1), { rating: { score: 5, comment: null } }, 'the comment is optional')
  t.match((await f.events('conversation.rated')).at(-1)?.data, { agentId: null }, 'unassigned')
})

t.test('updateConversation', async (t) => {
  const f = await scriptFixture(t)
  const T0 = Date.now()
  const update = (conversationId: string, fields: Partial<UpdateConversationInput>) => f.scripts.run(updateConversationCall(f.k, {
    conversationId, accountId: f.account.id, inboxes: [f.inbox.id], now: T0 + 10, uid: newUid(), ...fields,
  }))
  const id = (await f.open(T0))['id'] as string
  const listener = await f.listen()

  let r = await update(id, { priority: 'high', customAttributes: { plan: 'pro', seats: 3 }, branch: 'Berlin' })
  t.equal(r[0], 1)
  t.match(json(r, 1), { priority: 'high', customAttributes: { plan: 'pro', seats: 3 }, branch: 'Berlin', region: null })
  t.same(JSON.parse(r[2] as string), ['priority', 'customAttributes', 'branch'])

  r = await update(id, { priority: 'high', region: 'EU' })
  t.same(JSON.parse(r[2] as string), ['region'], 'only what changed is reported')
  t.match(json(r, 1), { priority: 'high', branch: 'Berlin', region: 'EU' }, 'fields left out stay')

  r = await update(id, { priority: null, branch: null, customAttributes: {} })
  t.match(json(r, 1), { priority: null, branch: null, customAttributes: {} }, 'null clears')
  t.same(JSON.parse(r[2] as string), ['priority', 'customAttributes', 'branch'])

  const events = (await f.events()).length
  r = await update(id, { priority: null, customAttributes: {} })
  t.equal(r[0], 2, 'nothing changed')
  t.equal((await f.events()).length, events, 'no event')

  await listener.settle()
  t.equal(listener.notices.length, 3)
  t.ok(listener.notices.every((n) => n['t'] === 'conversation.updated' && n['p'] === 1), 'agent-only: private notices')
  t.equal((await f.events('conversation.updated')).length, 3)

  t.same(await update('cv_doesnotexist0000000000', { priority: 'low' }), [-1])
  t.same(await update(id, { accountId: 'a_someoneelse000000000000', priority: 'low' }), [-1], "another account's conversation")
  t.same(await update(id, { inboxes: [f.otherInbox.id], priority: 'low' }), [-2], 'an inbox the agent is not in')
})
