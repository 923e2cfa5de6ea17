import t from 'tap'
import { Redis } from 'ioredis'
import { keysFor, partitionOf } from '../../lua/keys.js'
import {
  assignConversationCall, createConversationCall, createScripts, json, presenceBeatCall, setAvailabilityCall,
} from '../../lua/scripts.js'
import { autoAssign, drainQueue, presenceSweep } from '../../lua/sweeps.js'
import { startTestRedis } from '../helpers/stack.js'

const ACCT = 'a_AAAAAAAAAAAAAAAAAAAAAA'
const INBOX = 'in_1'
const k = keysFor(partitionOf(ACCT, 16))
const GRACE = 90_000
let n = 0
const uid = () => `u${++n}`

t.test('round robin, caps, queue, presence', async (t) => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.quit())
  const scripts = createScripts(redis)
  const now = 1_000_000

  async function agent(id: string, max: number | null = null) {
    await redis.hset(k.agent(id), { id, accountId: ACCT, name: `Agent ${id}`, maxConversations: max === null ? '' : String(max) })
    await redis.sadd(k.inboxAgents(INBOX), id)
  }
  const online = (id: string, at = now) => scripts.run(presenceBeatCall(k, { accountId: ACCT, agentId: id, connIds: ['c1'], now: at, graceMs: GRACE }))
  async function conversation(at = now): Promise<string> {
    const id = `cv_${String(++n).padStart(22, '0')}`
    const contact = `ct_${n}`
    t.equal((await scripts.run(createConversationCall(k, { id, accountId: ACCT, inboxId: INBOX, contactId: contact, now: at, uid: uid(), additionalAttributes: '{}' })))[0], 1)
    return id
  }
  const auto = (id: string, at = now) => autoAssign(scripts, k, { conversationId: id, inboxId: INBOX, accountId: ACCT, now: at, graceMs: GRACE, uid: uid(), hotTail: 100 })
  const assignee = async (id: string) => redis.hget(k.conversation(id), 'assigneeId')

  t.test('6 conversations over 2 online agents split 3/3; with one offline the next 3 go to the other', async (t) => {
    await agent('ag_a'); await agent('ag_b')
    t.same(await online('ag_a'), [1], 'came online')
    t.same(await online('ag_a'), [0], 'already online')
    await online('ag_b')
    const got: string[] = []
    for (let i = 0; i < 6; i++) {
      const r = await auto(await conversation())
      t.equal(r[0], 1)
      got.push(r[2] as string)
    }
    t.equal(got.filter((a) => a === 'ag_a').length, 3)
    t.equal(got.filter((a) => a === 'ag_b').length, 3)
    t.not(got[0], got[1], 'alternates')
    await scripts.run(setAvailabilityCall(k, { accountId: ACCT, agentId: 'ag_b', availability: 'offline', now, graceMs: GRACE, uid: uid() }))
    for (let i = 0; i < 3; i++) t.equal((await auto(await conversation()))[2], 'ag_a')
    t.equal(await redis.zcard(k.agentOpen('ag_a')), 6, 'load counts open assigned conversations')
    await scripts.run(setAvailabilityCall(k, { accountId: ACCT, agentId: 'ag_b', availability: 'online', now, graceMs: GRACE, uid: uid() }))
    t.equal((await auto(await conversation()))[2], 'ag_b', 'back online and least recently assigned')
    const log = await redis.xrange(k.conversationLog((await redis.zrange(k.agentOpen('ag_b'), '0', '0'))[0] ?? ''), '-', '+')
    t.match(log[0]?.[1][1], /Assigned to Agent ag_b by round robin/)
  })

  t.test('caps: nobody over maxConversations; the rest queue and drain oldest first', async (t) => {
    await redis.del(k.inboxAgents(INBOX), k.inboxRotation(INBOX))
    await agent('ag_c', 2)
    await online('ag_c')
    const ids: string[] = []
    for (let i = 0; i < 4; i++) ids.push(await conversation(now + i))
    const replies = []
    for (const id of ids) replies.push((await auto(id, now + 10))[0])
    t.same(replies, [1, 1, 3, 3], 'two assigned, two queued')
    t.same(await redis.zrange(k.inboxQueue(INBOX), '0', '-1'), ids.slice(2))
    t.ok(await redis.sismember(k.queues, INBOX))
    await agent('ag_d')
    const drained = await drainQueue(scripts, k, { inboxId: INBOX, accountId: ACCT, now: now + 20, graceMs: GRACE, uid: uid(), hotTail: 100, limit: 100 })
    t.same(drained, [1, 0, 2], 'ag_d is not online yet, ag_c was full: nothing')
    // a resolve frees capacity (set_list keeps the load in step)
    await redis.hset(k.conversation(ids[0] ?? ''), 'status', 'resolved')
    await redis.zrem(k.agentOpen('ag_c'), ids[0] ?? '')
    const one = await drainQueue(scripts, k, { inboxId: INBOX, accountId: ACCT, now: now + 30, graceMs: GRACE, uid: uid(), hotTail: 100, limit: 100 })
    t.same(one, [1, 1, 1])
    t.equal(await assignee(ids[2] ?? ''), 'ag_c', 'the oldest queued went first')
    await online('ag_d', now + 40)
    const rest = await drainQueue(scripts, k, { inboxId: INBOX, accountId: ACCT, now: now + 40, graceMs: GRACE, uid: uid(), hotTail: 100, limit: 100 })
    t.same(rest, [1, 1, 0])
    t.equal(await assignee(ids[3] ?? ''), 'ag_d')
    t.notOk(await redis.sismember(k.queues, INBOX), 'an empty queue leaves the index')
  })

  t.test('manual assignment: CAS conflict, outsiders forbidden, activity names both agents', async (t) => {
    const id = await conversation()
    const call = (assigneeId: string, expectedAssigneeId: string | null) => scripts.run(assignConversationCall(k, {
      conversationId: id, inboxId: INBOX, accountId: ACCT, inboxes: null, actorId: 'ag_c', actorName: 'Bob', assigneeId, expectedAssigneeId, now, uid: uid(), hotTail: 100,
    }))
    const r = await call('ag_d', '')
    t.equal(r[0], 1)
    t.equal(json(r, 1)['assigneeId'], 'ag_d')
    const log = await redis.xrange(k.conversationLog(id), '-', '+')
    t.match(log.at(-1)?.[1][1], /Assigned to Agent ag_d by Bob/)
    t.match(await call('ag_c', ''), [-5, /stale/], 'expected unassigned, but ag_d has it')
    t.equal((await call('ag_c', 'ag_d'))[0], 1)
    t.equal((await call('ag_c', null))[0], 2, 'same assignee: no change')
    t.same(await call('ag_zz', null), [-2], 'not an inbox member')
    t.equal((await call('', null))[0], 1, 'unassign')
    t.equal(await assignee(id), '')
    t.same(await scripts.run(assignConversationCall(k, { conversationId: id, inboxId: INBOX, accountId: 'a_other', inboxes: null, actorId: 'x', actorName: 'x', assigneeId: '', expectedAssigneeId: null, now, uid: uid(), hotTail: 100 })), [-1])
  })

  t.test('presence: online while any connection beats; offline only after the grace window', async (t) => {
    const t0 = now + 1_000_000
    t.same(await scripts.run(presenceBeatCall(k, { accountId: ACCT, agentId: 'ag_p', connIds: ['x', 'y'], now: t0, graceMs: GRACE })), [1])
    await redis.zrem(k.agentConnections(ACCT), 'ag_p|x') // one tab closes; the other keeps beating
    await scripts.run(presenceBeatCall(k, { accountId: ACCT, agentId: 'ag_p', connIds: ['y'], now: t0 + 60_000, graceMs: GRACE }))
    const sweep1 = await presenceSweep(scripts, k, { now: t0 + 120_000, graceMs: GRACE, limit: 100 })
    t.notOk((sweep1 as string[]).includes(`${ACCT}|ag_p`), 'still online: last beat 60 s ago')
    const sweep2 = await presenceSweep(scripts, k, { now: t0 + 60_000 + GRACE + 1, graceMs: GRACE, limit: 100 })
    t.ok((sweep2 as string[]).includes(`${ACCT}|ag_p`), 'offline once the grace window passed with no beat')
    t.equal(await redis.zscore(k.presence(ACCT), 'ag_p'), null)
    t.equal(await redis.zcard(k.agentConnections(ACCT)) >= 0, true)
  })
})
