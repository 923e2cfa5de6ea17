// updateMessage through its typed wrapper: every status it returns, what it writes (edits hash,
// update entry, updCount, partition event, fan-out) and what it leaves alone (the message's entry).
import t from 'tap'
import { json, updateMessageCall, type UpdateMessageInput } from '../../lua/scripts.js'
import { newUid } from '../../engine/ids.js'
import { scriptFixture } from './fixture.js'

t.test('updateMessage', async (t) => {
  const f = await scriptFixture(t)
  const T0 = Date.now()
  const id = (await f.open(T0))['id'] as string
  const fromContact = json(await f.send(id, T0 + 1), 1)
  const fromAgent = json(await f.send(id, T0 + 2, { senderType: 'agent', content: 'helo', echoId: 'e1' }), 1)
  const note = json(await f.send(id, T0 + 3, { senderType: 'agent', content: 'a note', private: true }), 1)
  const change = (opts: Partial<UpdateMessageInput>) => f.scripts.run(updateMessageCall(f.k, {
    conversationId: id, accountId: f.account.id, agentId: f.agent.id, admin: false, inboxes: null,
    messageId: fromAgent['id'] as string, action: 'edit', content: 'hello', windowMs: 60_000, now: T0 + 10, uid: newUid(),
    hotTail: 1000, archived: null, ...opts,
  }))

  t.same(await change({ conversationId: 'cv_doesnotexist0000000000' }), [-1], 'no such conversation')
  t.same(await change({ accountId: 'a_someoneelse000000000000' }), [-1], "another account's")
  t.match(await change({ inboxes: [f.otherInbox.id] }), [-2, /inbox/], 'an inbox the agent is not in')
  t.match(await change({ agentId: f.outsider.id }), [-2, /author/], 'not its author')
  t.match(await change({ messageId: fromContact['id'] as string }), [-2, /author/], "a contact's message")
  t.match(await change({ now: T0 + 2 + 60_001 }), [-4, /window/], 'past the edit window')
  t.same(await change({ messageId: '1-0' }), [3], 'not in Redis: the caller asks the archive')

  const listener = await f.listen()
  const r = await change({})
  t.equal(r[0], 1)
  t.equal(r[2], 1, 'changed')
  const edited = json(r, 1)
  t.match(edited, { id: fromAgent['id'], content: 'hello', contentAttributes: { edited: true }, updatedAt: T0 + 10, echoId: 'e1', uid: fromAgent['uid'], createdAt: T0 + 2 })
  const same = await change({ now: T0 + 11 })
  t.same([same[0], json(same, 1), same[2]], [1, edited, 0], 'the same content again: nothing written')
  const log = (await f.redis.xrange(f.k.conversationLog(id), '-', '+')) as [string, string[]][]
  t.equal(log.length, 4, 'three messages and one update entry')
  t.equal(log[3]?.[1][0], 'u', 'an update entry, not a message')
  t.match(JSON.parse(log[1]?.[1][1] ?? '{}'), { content: 'helo' }, "the message's own entry is untouched")
  t.match(JSON.parse((await f.redis.hget(f.k.conversationEdits(id), fromAgent['id'] as string)) ?? '{}'), { content: 'hello' })
  t.equal(await f.redis.hget(f.k.conversation(id), 'updCount'), '1')
  t.match((await f.events('message.updated')).map((e) => e.data), [{ action: 'edit', message: { id: fromAgent['id'], content: 'hello' } }])

  // deletes: the author, an administrator (any message but activity), idempotent
  t.match(await change({ action: 'delete', messageId: fromContact['id'] as string }), [-2, /administrator/], 'an agent deleting what it did not write')
  const del = await change({ action: 'delete', messageId: fromContact['id'] as string, agentId: f.outsider.id, admin: true, content: null })
  t.match(json(del, 1), { id: fromContact['id'], content: '', contentAttributes: { deleted: true }, type: 'incoming' })
  t.equal((await change({ action: 'delete', messageId: fromContact['id'] as string, admin: true }))[2], 0, 'deleted again: nothing written')
  t.match(await change({ messageId: fromContact['id'] as string, agentId: f.agent.id }), [-2], 'never edited by anyone but its author')
  const noteDel = await change({ action: 'delete', messageId: note['id'] as string })
  t.equal(noteDel[0], 1)
  t.match(await change({ messageId: note['id'] as string }), [-4, /deleted/], 'a deleted message is not edited')
  t.same(await change({ messageId: log[3]?.[0] ?? '' }), [-6], "an update entry's id is no message")

  // a message only the archive holds: handed in, and from then on the edits hash has it
  const archived = JSON.stringify({ ...fromAgent, id: undefined, conversationId: id, content: 'old', createdAt: T0 + 5, sender: { type: 'agent', id: f.agent.id } })
  const fromArchive = await change({ messageId: '2-0', archived })
  t.match(json(fromArchive, 1), { id: '2-0', content: 'hello', contentAttributes: { edited: true } })
  t.same(await change({ messageId: '3-0', archived: JSON.stringify({ ...JSON.parse(archived), conversationId: 'cv_other' }) }), [-6], "another conversation's message")
  // an activity message is never changed
  await f.redis.xadd(f.k.conversationLog(id), '*', 'm', JSON.stringify({ conversationId: id, type: 'activity', content: 'Resolved', sender: { type: 'system', id: null }, createdAt: T0 }))
  const act = ((await f.redis.xrevrange(f.k.conversationLog(id), '+', '-', 'COUNT', 1)) as [string, string[]][])[0]?.[0]
  t.match(await change({ action: 'delete', messageId: act ?? '', admin: true }), [-2, /activity/])

  await listener.settle()
  t.match(listener.notices.map((n) => [n['t'], n['p'], n['d'].message.id]), [
    ['message.updated', 0, fromAgent['id']], ['message.updated', 0, fromContact['id']], ['message.updated', 1, note['id']], ['message.updated', 0, '2-0'],
  ], 'one notice per change; the note only to agents (p = 1)')
})
