import t from 'tap'
import { Unpackr } from 'msgpackr'
import { keysFor } from '../../lua/keys.js'
import {
  evictContactCall, evictConversationCall, loadScriptSources, rehydrateContactCall, rehydrateConversationCall, sameSlot, setConversationStatusCall,
  type RehydrateConversationInput,
} from '../../lua/scripts.js'
import { newUid } from '../../engine/ids.js'
import { scriptFixture } from './fixture.js'

t.test('builders: one slot, KEYS count as the file name says', async (t) => {
  const counts = new Map(loadScriptSources().map((s) => [s.name, s.numberOfKeys]))
  const k = keysFor(2)
  const evict = evictConversationCall(k, { conversationId: 'cv_1', cutoff: 5, expected: { id: 'cv_1' }, now: 9, uid: 'u' })
  const back = rehydrateConversationCall(k, {
    conversationId: 'cv_1', inboxId: 'in_1', status: 'resolved', fields: { id: 'cv_1', status: 'resolved' }, score: 3,
    messages: [{ id: '1-0', json: '{}' }],
  })
  for (const call of [evict, back]) {
    t.equal(call.keys.length, counts.get(call.name), `${call.name}: KEYS count`)
    t.ok(sameSlot(call.keys), `${call.name}: one slot`)
  }
  t.equal(back.keys[2], k.inboxStatusList('in_1', 'resolved'))
  const argv = new Unpackr({ useRecords: false, mapsAsObjects: true }).unpack(back.args[0] as Buffer) as Record<string, unknown>
  t.same(argv['fields'], ['id', 'cv_1', 'status', 'resolved'], 'the hash goes as a flat field/value list')
})

t.test('evictConversation: only a resolved, idle conversation in exactly the verified state', async (t) => {
  const f = await scriptFixture(t)
  const T0 = Date.now() - 60_000
  const resolve = (id: string, now: number) => f.scripts.run(setConversationStatusCall(f.k, {
    conversationId: id, accountId: f.account.id, inboxes: null, agentId: f.agent.id, agentName: 'Ada', status: 'resolved',
    snoozedUntil: null, now, uid: newUid(), hotTail: 1000,
  }))
  const evict = async (id: string, cutoff: number, expected?: Record<string, string>) => f.scripts.run(evictConversationCall(f.k, {
    conversationId: id, cutoff, expected: expected ?? (await f.redis.hgetall(f.k.conversation(id))), now: T0 + 10_000, uid: newUid(),
  }))

  const id = (await f.open(T0))['id'] as string
  await f.send(id, T0 + 1, { echoId: 'e1' })
  await f.send(id, T0 + 2, { senderType: 'agent', content: 'hi' })
  t.same(await evict(id, T0 + 10_000), [2, 'status'], 'an open conversation is never evicted')
  t.same(await evict('cv_doesnotexist0000000000', T0 + 10_000, {}), [2, 'missing'])

  await resolve(id, T0 + 3)
  t.same(await evict(id, T0 + 3), [2, 'recent'], 'active at the cutoff')
  const h = await f.redis.hgetall(f.k.conversation(id))
  t.same(await evict(id, T0 + 10_000, { ...h, msgCount: '2' }), [2, 'changed'], 'a message since the check')
  t.same(await evict(id, T0 + 10_000, { ...h, extra: 'x' }), [2, 'changed'], 'a field more than the hash has')
  t.notOk('rating' in h)
  t.same(await evict(id, T0 + 10_000, { ...h, rating: 'x' }), [2, 'changed'], 'a field the hash lacks')
  await f.redis.hset(f.k.conversation(id), 'rehydratedAt', String(T0 + 20_000))
  t.same(await evict(id, T0 + 10_000), [2, 'recent'], 'rehydrated within the window')
  await f.redis.hdel(f.k.conversation(id), 'rehydratedAt')
  t.ok(await f.redis.exists(f.k.conversation(id), f.k.conversationLog(id), f.k.conversationEchoes(id), f.k.conversationFlood(id)) === 4, 'nothing removed by a refusal')

  const pointer = f.k.contactConversation(f.contact.id, f.inbox.id)
  t.equal(await f.redis.get(pointer), id)
  await f.redis.zadd(f.k.snoozed, T0, id) // a stale schedule entry goes too
  t.same(await evict(id, T0 + 10_000), [1, ''])
  t.equal(await f.redis.exists(f.k.conversation(id), f.k.conversationLog(id), f.k.conversationEchoes(id), f.k.conversationFlood(id)), 0, 'hash, log, echo and flood keys gone')
  t.equal(await f.redis.zscore(f.k.inboxStatusList(f.inbox.id, 'resolved'), id), null, 'off its status list')
  t.equal(await f.redis.zscore(f.k.snoozed, id), null, 'off the snooze schedule')
  t.equal(await f.redis.get(pointer), null, 'the contact pointer that named it is cleared')
  const evicted = await f.events('conversation.evicted')
  t.equal(evicted.length, 1)
  t.match(evicted[0]?.data, { conversationId: id, inboxId: f.inbox.id, contactId: f.contact.id, lastActivityAt: T0 + 3, msgCount: 3 })
  t.notOk('conversation' in (evicted[0]?.data ?? {}), 'no conversation object: the archiver leaves the row alone')
  t.same(await evict(id, T0 + 10_000, h), [2, 'missing'], 'evicting twice')

  // a pointer naming the contact's newer conversation stays
  const older = (await f.open(T0 + 100))['id'] as string
  await resolve(older, T0 + 101)
  const newer = (await f.open(T0 + 102))['id'] as string
  t.equal(await f.redis.get(pointer), newer)
  t.same(await evict(older, T0 + 10_000), [1, ''])
  t.equal(await f.redis.get(pointer), newer, 'the pointer to the newer conversation is untouched')
})

t.test('rehydrateConversation: writes only if absent, with the original message ids', async (t) => {
  const f = await scriptFixture(t)
  const id = 'cv_rehydrated00000000000'
  const input = (messages: RehydrateConversationInput['messages']): RehydrateConversationInput => ({
    conversationId: id, inboxId: f.inbox.id, status: 'resolved', score: 1000, messages,
    fields: { id, accountId: f.account.id, inboxId: f.inbox.id, contactId: f.contact.id, status: 'resolved', displayId: '7', lastActivityAt: '1000', createdAt: '900', msgCount: '5', unreadCount: '0' },
  })
  const msg = (n: number) => JSON.stringify({ conversationId: id, accountId: f.account.id, inboxId: f.inbox.id, type: 'incoming', content: `m${n}`, contentType: 'text', contentAttributes: {}, private: false, echoId: null, sourceId: null, status: 'sent', sender: { type: 'contact', id: f.contact.id }, createdAt: 900 + n, uid: `u${n}` })

  t.same(await f.scripts.run(rehydrateConversationCall(f.k, input([{ id: '5-0', json: msg(1) }, { id: '5-0', json: msg(2) }]))), [0, 'message ids are not strictly ascending'])
  t.same(await f.scripts.run(rehydrateConversationCall(f.k, input([{ id: '6-0', json: msg(1) }, { id: '5-9', json: msg(2) }]))), [0, 'message ids are not strictly ascending'])
  t.equal(await f.redis.exists(f.k.conversation(id)), 0, 'a refusal writes nothing')

  await f.redis.xadd(f.k.conversationLog(id), '9999999999999-0', 'm', 'leftover')
  const messages = [{ id: '950-0', json: msg(1) }, { id: '950-1', json: msg(2) }, { id: '1000-0', json: msg(3) }]
  t.same(await f.scripts.run(rehydrateConversationCall(f.k, input(messages))), [1, 3])
  t.same((await f.log(id)).map((m) => [m['id'], m['content']]), [['950-0', 'm1'], ['950-1', 'm2'], ['1000-0', 'm3']], 'the original ids, a leftover log replaced')
  t.match(await f.redis.hgetall(f.k.conversation(id)), { status: 'resolved', msgCount: '5', displayId: '7' })
  t.equal(await f.redis.zscore(f.k.inboxStatusList(f.inbox.id, 'resolved'), id), '1000', 'on its status list by lastActivityAt')

  t.same(await f.scripts.run(rehydrateConversationCall(f.k, { ...input([{ id: '2000-0', json: msg(9) }]), fields: { id, status: 'open' } })), [2, 0], 'a second copy writes nothing')
  t.equal(await f.redis.hget(f.k.conversation(id), 'status'), 'resolved')
  t.equal(await f.redis.xlen(f.k.conversationLog(id)), 3)

  const sent = await f.send(id, Date.now(), { senderType: 'agent', content: 'after' })
  t.equal(sent[0], 1, 'the rehydrated conversation takes new messages')
  const newId = (JSON.parse(sent[1] as string) as { id: string }).id
  t.ok(Number(newId.split('-')[0]) > 1000, `a new message gets a later id (${newId})`)
  t.equal(await f.redis.hget(f.k.conversation(id), 'msgCount'), '6', 'msgCount continues from the archived count')
})

t.test('evictContact / rehydrateContact: idle, unchanged and without a current conversation; back only if absent', async (t) => {
  const f = await scriptFixture(t)
  const T0 = Date.now() - 60_000
  const identified = await f.directory.createContact(f.account.id, f.inbox.id, 'cust-42')
  const k = f.k
  const evict = async (id: string, cutoff: number, expected?: Record<string, string>) => f.scripts.run(evictContactCall(k, {
    contactId: id, accountId: f.account.id, cutoff, expected: expected ?? (await f.redis.hgetall(k.contact(id))), now: T0 + 10_000, uid: newUid(),
  }))
  const builders = [evictContactCall(k, { contactId: 'ct_1', accountId: 'a_1', cutoff: 1, expected: {}, now: 2, uid: 'u' }),
    rehydrateContactCall(k, { contactId: 'ct_1', accountId: 'a_1', fields: { id: 'ct_1' }, identifier: null, now: 1 })]
  const counts = new Map(loadScriptSources().map((s) => [s.name, s.numberOfKeys]))
  for (const call of builders) {
    t.equal(call.keys.length, counts.get(call.name), `${call.name}: KEYS count`)
    t.ok(sameSlot(call.keys), `${call.name}: one slot`)
  }

  const touched = Number(await f.redis.zscore(k.contactsTouched, identified.id))
  t.ok(touched > 0, 'createContact indexes the contact')
  t.same(await evict(identified.id, touched), [2, 'recent'], 'touched at the cutoff')
  const h = await f.redis.hgetall(k.contact(identified.id))
  t.same(await evict(identified.id, touched + 1, { ...h, name: 'Bo' }), [2, 'changed'], 'a field changed since the check')
  t.same(await evict(identified.id, touched + 1, { ...h, extra: '1' }), [2, 'changed'], 'a field more')

  // a current conversation in another inbox of the account keeps it
  await f.open(T0, identified.id, f.otherInbox.id)
  t.same(await evict(identified.id, touched + 1), [2, 'active'], 'it has an open conversation')
  await f.redis.del(k.contactConversation(identified.id, f.otherInbox.id))
  t.equal(await f.redis.exists(k.contact(identified.id)), 1, 'nothing removed by refusals')

  t.same(await evict(identified.id, touched + 1), [1, ''])
  t.equal(await f.redis.exists(k.contact(identified.id)), 0, 'the hash is gone')
  t.equal(await f.redis.zscore(k.contactsTouched, identified.id), null, 'off the index')
  t.equal(await f.redis.hget(k.accountIdentifiers(f.account.id), 'cust-42'), identified.id, 'the identifier mapping stays')
  t.match((await f.events('contact.evicted')).map((e) => e.data), [{ contactId: identified.id, identifier: 'cust-42' }])
  t.same(await evict(identified.id, touched + 1, {}), [2, 'missing'])

  // a stale index entry (no hash) is dropped
  await f.redis.zadd(k.contactsTouched, 1, 'ct_stale0000000000000000')
  t.same(await evict('ct_stale0000000000000000', 10, {}), [2, 'missing'])
  t.equal(await f.redis.zscore(k.contactsTouched, 'ct_stale0000000000000000'), null)

  const back = (identifier: string | null, now: number) => f.scripts.run(rehydrateContactCall(k, {
    contactId: identified.id, accountId: f.account.id, fields: { ...h, rehydratedAt: String(now) }, identifier, now,
  }))
  // meanwhile another contact took the identifier (the mapping was lost and recreated): that one keeps it
  await f.redis.hset(k.accountIdentifiers(f.account.id), 'cust-42', f.contact.id)
  t.same(await back('cust-42', T0 + 20_000), [0, 'identifier taken'])
  t.equal(await f.redis.exists(k.contact(identified.id)), 0, 'nothing written')
  await f.redis.hdel(k.accountIdentifiers(f.account.id), 'cust-42') // lost: the restore maps it again
  t.same(await back('cust-42', T0 + 20_000), [1, ''])
  t.same(await f.redis.hgetall(k.contact(identified.id)), { ...h, rehydratedAt: String(T0 + 20_000) }, 'the hash as it was')
  t.equal(await f.redis.hget(k.accountIdentifiers(f.account.id), 'cust-42'), identified.id, 'the identifier maps to it again')
  t.equal(await f.redis.zscore(k.contactsTouched, identified.id), String(T0 + 20_000), 'touched now')
  t.same(await back('cust-42', T0 + 30_000), [2, ''], 'a second restore writes nothing')
  t.equal(await f.redis.zscore(k.contactsTouched, identified.id), String(T0 + 20_000))
})
