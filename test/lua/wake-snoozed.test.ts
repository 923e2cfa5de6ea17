import t from 'tap'
import pino from 'pino'
import { json, setConversationStatusCall } from '../../lua/scripts.js'
import { wakeSnoozed } from '../../lua/sweeps.js'
import { keysFor } from '../../lua/keys.js'
import { newUid } from '../../engine/ids.js'
import { createScheduler } from '../../engine/scheduler.js'
import { createScripts } from '../../lua/scripts.js'
import { Redis } from 'ioredis'
import { PARTITIONS, scriptFixture } from './fixture.js'

t.test('wakeSnoozed', async (t) => {
  const f = await scriptFixture(t)
  const T0 = Date.now()
  const snooze = async (id: string, until: number, now = T0) => {
    const reply = await f.scripts.run(setConversationStatusCall(f.k, {
      conversationId: id, accountId: f.account.id, inboxes: null, agentId: f.agent.id, agentName: f.agent.name,
      status: 'snoozed', snoozedUntil: until, now, uid: newUid(), hotTail: 1000,
    }))
    return json(reply, 1)
  }
  /** status, claimed, woken, wokenJSON (the shape the one-script version answered) */
  const wakeReply = async (now: number, limit = 100) => {
    const r = await wakeSnoozed(f.scripts, f.k, { now, uid: newUid(), hotTail: 1000, limit })
    return [1, r.done, r.woken.length, JSON.stringify(r.woken)]
  }
  /** status, claimed, woken */
  const wake = async (now: number, limit = 100) => (await wakeReply(now, limit)).slice(0, 3)
  const contacts = new Map<string, string>()
  const newConversation = async () => {
    const contact = await f.directory.createContact(f.account.id, f.inbox.id, null)
    const id = (await f.open(T0, contact.id))['id'] as string
    contacts.set(id, contact.id)
    return id
  }
  const reopenedActivities = async (id: string) =>
    (await f.log(id)).filter((m) => m['content'] === 'Conversation was reopened (snooze ended)').length

  t.test('due entries reopen their conversations, once', async (t) => {
    const due = await newConversation()
    const later = await newConversation()
    await snooze(due, T0 + 1000)
    await snooze(later, T0 + 5000)
    const listener = await f.listen()

    t.same(await wake(T0 + 999), [1, 0, 0], 'nothing is due yet')
    const r = await wakeReply(T0 + 1000)
    t.same(r.slice(0, 3), [1, 1, 1], 'claims and reopens the due one')
    t.same(JSON.parse(r[3] as string), [{ id: due, accountId: f.account.id, inboxId: f.inbox.id, assigneeId: null }], 'and names it')
    t.same((await wakeReply(T0 + 999))[3], '[]')
    t.same(await wake(T0 + 1000), [1, 0, 0], 'fires once')
    const c = await f.redis.hgetall(f.k.conversation(due))
    t.match(c, { status: 'open', snoozedUntil: '', lastActivityAt: String(T0 + 1000) })
    t.equal(await reopenedActivities(due), 1, 'one activity message')
    t.not(await f.redis.zscore(f.k.inboxStatusList(f.inbox.id, 'open'), due), null, 'in the open list')
    t.equal(await f.redis.zscore(f.k.inboxStatusList(f.inbox.id, 'snoozed'), due), null, 'out of the snoozed list')
    t.equal(await f.redis.hget(f.k.conversation(later), 'status'), 'snoozed', 'the later one still sleeps')
    t.equal(await f.redis.zscore(f.k.snoozed, later), String(T0 + 5000))

    await listener.settle()
    t.same(listener.notices.map((n) => n['t']), ['message.created', 'conversation.updated'])
    t.match(listener.notices[1], { d: { conversation: { id: due, status: 'open', snoozedUntil: null }, changed: ['status', 'snoozedUntil'] } })
    const updated = (await f.events('conversation.updated')).filter((e) => (e.data['conversation'] as Record<string, unknown>)['id'] === due)
    t.match(updated.at(-1)?.data, { previousStatus: 'snoozed', actor: { type: 'system' }, conversation: { status: 'open' } })
    t.same(await wake(T0 + 5000), [1, 1, 1], 'the later one wakes at its time')
  })

  t.test('a stale entry (reopened or re-snoozed meanwhile) is dropped without a change', async (t) => {
    const id = await newConversation()
    await snooze(id, T0 + 2000)
    // the contact writes: appendMessage reopens it and takes it off the schedule
    t.equal((await f.send(id, T0 + 100, { senderId: contacts.get(id) ?? '' }))[0], 1)
    t.equal(await f.redis.zscore(f.k.snoozed, id), null)
    t.equal(await f.redis.hget(f.k.conversation(id), 'status'), 'open')
    // a stale entry left behind (e.g. written by an older node) must not reopen anything
    await snooze(id, T0 + 9000, T0 + 200)
    await f.redis.zadd(f.k.snoozed, T0 + 2000, 'cv_stale00000000000000000')
    const before = (await f.log(id)).length
    t.same(await wake(T0 + 3000), [1, 1, 0], 'the stale entry is claimed but wakes nothing')
    t.equal((await f.log(id)).length, before)
    t.equal(await f.redis.hget(f.k.conversation(id), 'status'), 'snoozed')
    t.same(await wake(T0 + 9000), [1, 1, 1])
  })

  t.test('a batch is limited; the rest follows on the next call', async (t) => {
    const ids = [await newConversation(), await newConversation(), await newConversation()]
    for (const id of ids) await snooze(id, T0 + 20_000)
    t.same(await wake(T0 + 20_000, 2), [1, 2, 2])
    t.same(await wake(T0 + 20_000, 2), [1, 1, 1])
  })

  t.test('two schedulers racing over the same partitions fire each entry exactly once', async (t) => {
    const ids: string[] = []
    for (let i = 0; i < 30; i++) ids.push(await newConversation())
    const until = T0 + 60_000
    for (const id of ids) await snooze(id, until)
    const log = pino({ level: 'silent' })
    const other = new Redis(f.server.url)
    t.teardown(() => other.quit())
    const now = () => until
    const a = createScheduler({ scripts: f.scripts, partitions: PARTITIONS, now, intervalMs: 5, log, batch: 7 })
    const b = createScheduler({ scripts: createScripts(other), partitions: PARTITIONS, now, intervalMs: 5, log, batch: 7 })
    const [ra, rb] = await Promise.all([a.tick(), b.tick()])
    t.equal(ra.woken + rb.woken, 30, 'every conversation woke')
    t.equal(ra.claimed + rb.claimed, 30, 'and was claimed once')
    for (const id of ids) t.equal(await reopenedActivities(id), 1, `${id} reopened once`)
    t.equal(await f.redis.zcard(keysFor(f.k.partition).snoozed), 0, 'the schedule is empty')
  })

  t.test('start/stop: the timer fires due entries and stops cleanly', async (t) => {
    const id = await newConversation()
    await snooze(id, T0 + 100_000)
    let clock = T0 + 99_999
    const s = createScheduler({ scripts: f.scripts, partitions: PARTITIONS, now: () => clock, intervalMs: 10, log: pino({ level: 'silent' }) })
    s.start()
    await new Promise((r) => setTimeout(r, 40))
    t.equal(await f.redis.hget(f.k.conversation(id), 'status'), 'snoozed', 'not due yet')
    clock = T0 + 100_000
    for (let i = 0; i < 100 && (await f.redis.hget(f.k.conversation(id), 'status')) !== 'open'; i++) await new Promise((r) => setTimeout(r, 10))
    t.equal(await f.redis.hget(f.k.conversation(id), 'status'), 'open', 'woken by the timer')
    await s.stop()
    t.equal(await reopenedActivities(id), 1)
  })
})
