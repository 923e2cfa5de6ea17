import t from 'tap'
import { json, setConversationStatusCall, type ConversationStatus, type SetConversationStatusInput } from '../../lua/scripts.js'
import { newUid } from '../../engine/ids.js'
import { scriptFixture } from './fixture.js'

t.test('setConversationStatus', async (t) => {
  const f = await scriptFixture(t)
  const T0 = Date.now()
  const setStatus = (conversationId: string, status: ConversationStatus, now: number, opts: Partial<SetConversationStatusInput> = {}) =>
    f.scripts.run(setConversationStatusCall(f.k, {
      conversationId, accountId: f.account.id, inboxes: [f.inbox.id], agentId: f.agent.id, agentName: f.agent.name,
      status, snoozedUntil: null, now, uid: newUid(), hotTail: 1000, ...opts,
    }))
  const inList = async (id: string, status: string) => (await f.redis.zscore(f.k.inboxStatusList(f.inbox.id, status), id)) !== null
  const lastActivity = async (id: string) => (await f.log(id)).filter((m) => m['type'] === 'activity').at(-1)?.['content']

  t.test('resolve, snooze, pending, reopen: activity, lists, schedule, events', async (t) => {
    const conv = await f.open(T0)
    const id = conv['id'] as string
    await f.send(id, T0 + 1)
    t.equal((await f.redis.hget(f.k.conversation(id), 'waitingSince')), String(T0), 'the contact is waiting')
    const listener = await f.listen()

    let reply = await setStatus(id, 'resolved', T0 + 10)
    t.equal(reply[0], 1)
    let c = json(reply, 1)
    t.match(c, { status: 'resolved', waitingSince: null, lastActivityAt: T0 + 10 }, 'resolve clears waitingSince')
    t.same(JSON.parse(reply[2] as string), ['status', 'waitingSince'])
    t.equal(await lastActivity(id), 'Conversation was resolved by Ada')
    t.ok(await inList(id, 'resolved'), 'in the resolved list')
    t.notOk(await inList(id, 'open'), 'left the open list')

    const until = T0 + 3_600_000
    reply = await setStatus(id, 'snoozed', T0 + 20, { snoozedUntil: until })
    c = json(reply, 1)
    t.match(c, { status: 'snoozed', snoozedUntil: until })
    t.equal(await lastActivity(id), `Conversation was snoozed until ${new Date(until).toISOString()}`)
    t.equal(await f.redis.zscore(f.k.snoozed, id), String(until), 'on the snooze schedule')
    t.ok(await inList(id, 'snoozed'))
    t.notOk(await inList(id, 'resolved'))

    reply = await setStatus(id, 'snoozed', T0 + 25, { snoozedUntil: until + 1000 })
    t.equal(reply[0], 1, 'a new snooze time is a change')
    t.same(JSON.parse(reply[2] as string), ['snoozedUntil'])
    t.equal(await f.redis.zscore(f.k.snoozed, id), String(until + 1000), 'rescheduled')

    reply = await setStatus(id, 'pending', T0 + 30)
    c = json(reply, 1)
    t.match(c, { status: 'pending', snoozedUntil: null })
    t.same(JSON.parse(reply[2] as string), ['status', 'snoozedUntil'])
    t.equal(await lastActivity(id), 'Conversation was marked as pending')
    t.equal(await f.redis.zscore(f.k.snoozed, id), null, 'off the snooze schedule')
    t.ok(await inList(id, 'pending'))

    reply = await setStatus(id, 'open', T0 + 40)
    t.match(json(reply, 1), { status: 'open' })
    t.equal(await lastActivity(id), 'Conversation was reopened')
    t.ok(await inList(id, 'open'))
    t.notOk(await inList(id, 'pending'))

    await listener.settle()
    const types = listener.notices.map((n) => n['t'])
    t.same(types, Array(5).fill(['message.created', 'conversation.updated']).flat(), 'each change publishes its activity, then the update')
    t.ok(listener.notices.every((n) => n['p'] === 0 && n['i'] === f.inbox.id && n['c'] === f.contact.id), 'to the inbox and the contact')
    const updates = await f.events('conversation.updated')
    t.same(updates.map((e) => (e.data['conversation'] as Record<string, unknown>)['status']).slice(-5),
      ['resolved', 'snoozed', 'snoozed', 'pending', 'open'], 'every change is on the partition stream')
    t.match(updates.at(-1)?.data, { previousStatus: 'pending', actor: { type: 'agent', id: f.agent.id }, changed: ['status'] })
    const activities = (await f.events('message.created')).filter((e) => (e.data['message'] as Record<string, unknown>)['type'] === 'activity')
    t.equal(activities.length, 5, 'every activity message is on the partition stream')
  })

  t.test('the same status changes nothing (status 2, no events)', async (t) => {
    const id = (await f.open(T0))['id'] as string
    const before = (await f.events()).length
    const logBefore = (await f.log(id)).length
    const reply = await setStatus(id, 'open', T0 + 50)
    t.equal(reply[0], 2)
    t.match(json(reply, 1), { id, status: 'open' })
    t.equal((await f.events()).length, before, 'no event')
    t.equal((await f.log(id)).length, logBefore, 'no activity')
  })

  t.test('not found and forbidden', async (t) => {
    const id = (await f.open(T0))['id'] as string
    t.same(await setStatus('cv_doesnotexist0000000000', 'resolved', T0), [-1], 'a missing conversation')
    t.same(await setStatus(id, 'resolved', T0, { accountId: 'a_someoneelse000000000000' }), [-1], "another account's conversation")
    t.same(await setStatus(id, 'resolved', T0, { inboxes: [f.otherInbox.id] }), [-2], 'an inbox the agent is not in')
    t.same(await setStatus(id, 'resolved', T0, { inboxes: [] }), [-2], 'an agent of no inbox')
    t.equal((await setStatus(id, 'pending', T0 + 1, { inboxes: null }))[0], 1, 'an administrator (all inboxes)')
  })

  t.test('reopening a resolved conversation makes it the contact\'s current one unless another is active', async (t) => {
    const contact = await f.directory.createContact(f.account.id, f.inbox.id, null)
    const first = (await f.open(T0, contact.id))['id'] as string
    const pointer = f.k.contactConversation(contact.id, f.inbox.id)
    await setStatus(first, 'resolved', T0 + 1)
    const second = (await f.open(T0 + 2, contact.id))['id'] as string
    t.not(second, first, 'a resolved conversation is not reused')
    await setStatus(first, 'open', T0 + 3)
    t.equal(await f.redis.get(pointer), second, 'the active second conversation stays current')
    await setStatus(first, 'resolved', T0 + 4)
    await setStatus(second, 'resolved', T0 + 5)
    await setStatus(first, 'open', T0 + 6)
    t.equal(await f.redis.get(pointer), first, 'the reopened one is current again')
    t.equal((await f.open(T0 + 7, contact.id))['id'], first, 'and conversation.open returns it')
  })
})
