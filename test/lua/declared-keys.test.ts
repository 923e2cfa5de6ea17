// appendMessage declares every key it writes (a key written undeclared while its slot migrates makes
// Redis Cluster abort the script half-way): with a wrong guess it writes nothing and answers
// NEEDS_KEYS, and createScripts().run calls it again with the keys that answer names.
import t from 'tap'
import { appendMessageCall, createScripts, NEEDS_KEYS, type AppendMessageInput } from '../../lua/scripts.js'
import { newUid } from '../../engine/ids.js'
import { scriptFixture } from './fixture.js'

t.test('declared keys of appendMessage', async (t) => {
  const f = await scriptFixture(t)
  const conv = await f.open(1_000)
  const convId = conv['id'] as string
  const input = (over: Partial<AppendMessageInput> = {}): AppendMessageInput => ({
    conversationId: convId, inboxId: null, accountId: f.account.id, senderType: 'contact', senderId: f.contact.id, inboxes: null,
    content: 'hello', contentType: 'text', contentAttributes: '{}', private: false, echoId: null, sourceId: null, now: 2_000,
    uid: newUid(), reopenUid: newUid(), floodLimit: 1000, hotTail: 1000, dedupeTtlMs: 60_000, sourceTtlMs: 60_000, ...over,
  })
  const raw = async (keys: string[], args: (string | Buffer)[]) =>
    (f.redis as unknown as Record<string, (...a: (string | Buffer)[]) => Promise<unknown[]>>)['appendMessage']?.(...keys, ...args) as Promise<unknown[]>

  await t.test('no hint: nothing written, the answer names the state', async (t) => {
    const call = appendMessageCall(f.k, input())
    const before = await f.redis.xlen(f.k.conversationLog(convId))
    const reply = await raw(call.keys, call.args)
    t.equal(reply[0], NEEDS_KEYS)
    t.same(JSON.parse(String(reply[1])), { inboxId: f.inbox.id, status: 'open', assigneeId: '', contactId: f.contact.id })
    t.equal(await f.redis.xlen(f.k.conversationLog(convId)), before, 'no message appended')
  })

  await t.test('the right hint runs at once; every key it writes is declared', async (t) => {
    const call = appendMessageCall(f.k, input(), { inboxId: f.inbox.id, status: 'open', assigneeId: '' })
    t.ok(call.keys.includes(f.k.inboxStatusList(f.inbox.id, 'open')))
    const reply = await raw(call.keys, call.args)
    t.equal(reply[0], 1)
  })

  await t.test('run() recovers from a stale hint: assigned and resolved elsewhere, reopened by the contact', async (t) => {
    const scripts = createScripts(f.redis)
    t.equal((await scripts.run(appendMessageCall(f.k, input())))[0], 1, 'first call: no hint, one retry')
    await f.redis.hset(f.k.conversation(convId), 'assigneeId', f.agent.id, 'status', 'resolved')
    await f.redis.zrem(f.k.inboxStatusList(f.inbox.id, 'open'), convId)
    await f.redis.zadd(f.k.inboxStatusList(f.inbox.id, 'resolved'), 1, convId)
    const reply = await scripts.run(appendMessageCall(f.k, input({ uid: newUid() })))
    t.equal(reply[0], 1)
    t.equal(reply[3], 1, 'reopened')
    t.equal(await f.redis.zscore(f.k.inboxStatusList(f.inbox.id, 'resolved'), convId), null, 'left the resolved list')
    t.ok(await f.redis.zscore(f.k.inboxStatusList(f.inbox.id, 'open'), convId), 'in the open list')
    t.ok(await f.redis.zscore(f.k.agentOpen(f.agent.id), convId), 'in the assignee load')
    const next = appendMessageCall(f.k, input(), { inboxId: f.inbox.id, status: 'open', assigneeId: f.agent.id })
    t.equal((await raw(next.keys, next.args))[0], 1, 'the hint from that reply is right for the next call')
  })
})
