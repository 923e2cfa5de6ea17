import t from 'tap'
import pino from 'pino'
import { setConversationStatusCall } from '../../lua/scripts.js'
import { autoResolve } from '../../lua/sweeps.js'
import { newUid } from '../../engine/ids.js'
import { setInboxAutoResolve } from '../../engine/auto-resolve.js'
import { createScheduler } from '../../engine/scheduler.js'
import { PARTITIONS, scriptFixture } from './fixture.js'

t.test('autoResolve', async (t) => {
  const f = await scriptFixture(t)
  const T0 = Date.now()
  const HOUR = 3_600_000
  /** status, resolved (the shape the one-script version answered) */
  const run = async (now: number, limit = 100) => [1, (await autoResolve(f.scripts, f.k, { now, uid: newUid(), hotTail: 1000, limit })).done]
  const conversation = async (inboxId: string, now: number) => {
    const contact = await f.directory.createContact(f.account.id, inboxId, null)
    const id = (await f.open(now, contact.id, inboxId))['id'] as string
    return { id, contactId: contact.id }
  }
  const status = async (id: string) => f.redis.hget(f.k.conversation(id), 'status')

  const idle = await conversation(f.inbox.id, T0)
  const busy = await conversation(f.inbox.id, T0)
  const pending = await conversation(f.inbox.id, T0)
  const elsewhere = await conversation(f.otherInbox.id, T0)
  await f.send(busy.id, T0 + HOUR, { senderId: busy.contactId })
  await f.scripts.run(setConversationStatusCall(f.k, {
    conversationId: pending.id, accountId: f.account.id, inboxes: null, agentId: f.agent.id, agentName: 'Ada',
    status: 'pending', snoozedUntil: null, now: T0, uid: newUid(), hotTail: 1000,
  }))

  t.same(await run(T0 + 10 * HOUR), [1, 0], 'off by default: nothing is resolved')

  await setInboxAutoResolve({ redis: f.redis, partitions: PARTITIONS }, f.account.id, f.inbox.id, 2 * HOUR)
  t.equal(await f.redis.hget(f.k.autoResolve, f.inbox.id), String(2 * HOUR), 'in the partition index')
  t.match(await f.redis.hgetall(f.k.inbox(f.inbox.id)), { autoResolveAfterMs: String(2 * HOUR) }, 'on the inbox')
  t.match((await f.events('inbox.updated')).at(-1)?.data, { id: f.inbox.id, autoResolveAfterMs: 2 * HOUR })

  t.same(await run(T0 + 2 * HOUR - 1), [1, 0], 'not idle long enough yet')
  const listener = await f.listen()
  t.same(await run(T0 + 2 * HOUR), [1, 1], 'the idle one is resolved')
  t.equal(await status(idle.id), 'resolved')
  t.equal(await status(busy.id), 'open', 'recent activity keeps it open')
  t.equal(await status(pending.id), 'pending', 'only open conversations')
  t.equal(await status(elsewhere.id), 'open', 'other inboxes keep their own setting')
  const last = (await f.log(idle.id)).at(-1)
  t.match(last, { type: 'activity', content: 'Conversation was marked resolved by system due to 2 hours of inactivity' })
  t.not(await f.redis.zscore(f.k.inboxStatusList(f.inbox.id, 'resolved'), idle.id), null, 'in the resolved list')
  t.match(await f.redis.hgetall(f.k.conversation(idle.id)), { waitingSince: '' }, 'no longer waiting')
  await listener.settle()
  t.same(listener.notices.map((n) => n['t']), ['message.created', 'conversation.updated'])
  t.match((await f.events('conversation.updated')).at(-1)?.data, { previousStatus: 'open', actor: { type: 'system' }, changed: ['status', 'waitingSince'] })

  t.same(await run(T0 + 3 * HOUR), [1, 1], 'the other one once it has been idle as long')
  t.same(await run(T0 + 3 * HOUR), [1, 0], 'each conversation once')

  t.test('a stale list entry is healed, not resolved', async (t) => {
    const c = await conversation(f.inbox.id, T0 + 3 * HOUR)
    await f.redis.zadd(f.k.inboxStatusList(f.inbox.id, 'open'), T0, 'cv_gone0000000000000000000')
    await f.redis.zadd(f.k.inboxStatusList(f.inbox.id, 'open'), T0, c.id) // score older than its lastActivityAt
    t.same(await run(T0 + 4 * HOUR), [1, 0])
    t.equal(await f.redis.zscore(f.k.inboxStatusList(f.inbox.id, 'open'), 'cv_gone0000000000000000000'), null)
    t.equal(await f.redis.zscore(f.k.inboxStatusList(f.inbox.id, 'open'), c.id), String(T0 + 3 * HOUR))
    t.equal(await status(c.id), 'open')
  })

  t.test('the scheduler runs it every n-th tick; off again with null', async (t) => {
    const c = await conversation(f.inbox.id, T0 + 10 * HOUR)
    const s = createScheduler({ scripts: f.scripts, partitions: PARTITIONS, now: () => T0 + 20 * HOUR, intervalMs: 1000, log: pino({ level: 'silent' }), autoResolveEveryTicks: 2 })
    t.match(await s.tick(), { resolved: 2 }, 'the first tick (this one and the re-scored one above)')
    t.equal(await status(c.id), 'resolved')
    const d = await conversation(f.inbox.id, T0 + 10 * HOUR)
    t.match(await s.tick(), { resolved: 0 }, 'not on the second')
    t.match(await s.tick(), { resolved: 1 }, 'again on the third')
    t.equal(await status(d.id), 'resolved')
    await setInboxAutoResolve({ redis: f.redis, partitions: PARTITIONS }, f.account.id, f.inbox.id, null)
    t.equal(await f.redis.hget(f.k.autoResolve, f.inbox.id), null)
    await conversation(f.inbox.id, T0 + 10 * HOUR)
    t.same(await run(T0 + 100 * HOUR), [1, 0], 'off')
  })

  t.test('the window as words', async (t) => {
    for (const [ms, words] of [[86_400_000, '1 day'], [3 * 86_400_000, '3 days'], [HOUR, '1 hour'], [90 * 60_000, '90 minutes'], [60_000, '1 minute'], [1000, '1 second'], [1500, '2 seconds']] as const) {
      await setInboxAutoResolve({ redis: f.redis, partitions: PARTITIONS }, f.account.id, f.otherInbox.id, ms)
      const c = await conversation(f.otherInbox.id, T0 + 200 * HOUR)
      await run(T0 + 200 * HOUR + ms)
      t.equal((await f.log(c.id)).at(-1)?.['content'], `Conversation was marked resolved by system due to ${words} of inactivity`)
    }
  })
})
