// Every script is safe while its partition's slot is split between two masters (IMPORTING/MIGRATING,
// part of its keys MIGRATEd, as `redis-cli --cluster reshard` leaves it between batches): each op of
// the protocol, the round robin, the queue drain, snooze wake-ups, auto-resolve and presence sweeps
// run through real engines during the window. Every script either runs with all its keys on the node
// that runs it or waits (TRYAGAIN, ASK) for the end: no client error, nothing half-written, nothing
// left on the old owner, the status lists, loads and logs agree with the conversation hashes.
import t from 'tap'
import { DEFAULT_PARTITIONS, keysFor, partitionOf } from '../../lua/keys.js'
import { keySlot } from '../../lua/slot.js'
import { adminPost, createTenant, type Json } from '../helpers/admin.js'
import { connect, type Client } from '../helpers/client.js'
import { startTestCluster } from '../helpers/cluster.js'
import { startEngine } from '../helpers/engine.js'

const STATUSES = ['open', 'pending', 'snoozed', 'resolved']

t.test('every op while the busy partition slot migrates', async (t) => {
  const cluster = await startTestCluster(t)
  const env = {
    REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.seeds, CONN_RATE_POINTS: '10000', OPS_PER_SECOND: '10000',
    SCHEDULER_MS: '100', SWEEP_MS: '200', PRESENCE_GRACE_MS: '1500',
  }
  const nodeA = await startEngine(t, { redisUrl: '', env })
  const nodeB = await startEngine(t, { redisUrl: '', env })
  const tenant = await createTenant(nodeA.http, { agents: 3, inbox: { messagesPerMinute: 100_000, autoAssign: true } })
  const accountId = tenant.account['id'] as string
  const k = keysFor(partitionOf(accountId, DEFAULT_PARTITIONS))
  const slot = keySlot(k.events)
  const quick = (await adminPost(nodeA.http, `/api/v1/accounts/${accountId}/inboxes`, { name: 'Quick', autoResolveAfterMs: 1000 })).body['inbox'] as Json
  const clients: Client[] = []
  t.teardown(() => Promise.all(clients.map((c) => c.close())))
  const track = (c: Client) => (clients.push(c), c)
  const agentUrl = (i: number, ws: string) => `${ws}/ws/agent?token=${encodeURIComponent(tenant.agents[i]?.token ?? '')}`
  const widgetUrl = (token: unknown, ws = nodeB.ws) => `${ws}/ws/widget?website_token=${encodeURIComponent(token as string)}`
  const agentId = (i: number) => tenant.agents[i]?.agent['id'] as string
  const failures: Json[] = []
  const must = async (what: string, c: Client, op: string, params: Json = {}): Promise<Json> => {
    const r = await c.request(op, params, 20_000)
    if (r['ok'] !== true) failures.push({ what, op, r })
    return r['data'] ?? {}
  }
  const open = async (token: unknown, widget?: Client) => {
    const w = widget ?? track(await connect(widgetUrl(token)))
    const conv = (await must('open', w, 'conversation.open'))['conversation'] as Json
    return { w, id: conv['id'] as string }
  }

  // before: two agents online, conversations spread by round robin, one snoozed to wake in the window
  const ann = track(await connect(agentUrl(0, nodeA.ws)))
  const bob = track(await connect(agentUrl(1, nodeB.ws)))
  const chats = []
  for (let i = 0; i < 7; i++) {
    const c = await open(tenant.inbox['websiteToken'])
    await must('first message', c.w, 'message.send', { conversationId: c.id, content: 'hello', echoId: 'h' })
    chats.push(c)
  }
  type Chat = (typeof chats)[number]
  const [edited, resolved, snoozed, assigned, rated, seen, parked] = chats as [Chat, Chat, Chat, Chat, Chat, Chat, Chat]
  const reply = (await must('agent reply', ann, 'message.send', { conversationId: edited.id, content: 'first draft' }))['message'] as Json
  await must('resolve to rate', ann, 'conversation.status', { conversationId: rated.id, status: 'resolved' })
  // snoozed for an hour: the schedule exists through the window (scripts that declare it run then)
  await must('park', ann, 'conversation.status', { conversationId: parked.id, status: 'snoozed', snoozedUntil: Date.now() + 3_600_000 })
  const idle = await open(quick['websiteToken'])
  // both busy: the next conversation waits in the queue until ann is online again (a drain)
  await must('busy', ann, 'presence.set', { availability: 'busy' })
  await must('busy', bob, 'presence.set', { availability: 'busy' })
  const queued = await open(tenant.inbox['websiteToken'])
  // a third agent comes and goes: the presence sweep takes it offline during the window
  const carl = await connect(agentUrl(2, nodeA.ws))
  await carl.request('ping')
  await carl.close()

  // a widget connected before the window opens its first conversation in it
  const freshWidget = track(await connect(widgetUrl(tenant.inbox['websiteToken'])))

  let sending = true
  const loops = chats.filter((c) => c !== rated && c !== parked).map(async (c) => { // these two keep their status
    for (let n = 0; sending; n++) await must('loop', c.w, 'message.send', { conversationId: c.id, content: `m${n}`, echoId: `m${n}` })
  })
  await new Promise((r) => setTimeout(r, 300))
  const from = await cluster.ownerOf(slot)
  const to = (await cluster.masters()).find((m) => m !== from) as number
  // the keys scripts used to derive inside Lua go first (status lists, agents' hashes and loads): a
  // script run on the old owner that touched one undeclared was aborted half-way there ("non local
  // key"); the conversations, logs, streams and the keys scripts always declared stay until the end
  const derived = /:st:[a-z]+$|:agent:[^:]+(:open)?$/
  await must('snooze', ann, 'conversation.status', { conversationId: snoozed.id, status: 'snoozed', snoozedUntil: Date.now() + 800 })
  const move = await cluster.beginMove(slot, to, (key) => derived.test(key))

  // the window: every op of the protocol at least once, in independent chains (an op that waits for
  // the end must not hold the others back), while the widgets keep sending
  const ops = Promise.all([
    (async () => {
      const fresh = await open(null, freshWidget) // a new conversation (+ round robin) waits for the end
      await must('fresh message', fresh.w, 'message.send', { conversationId: fresh.id, content: 'new here' })
    })(),
    (async () => {
      // a new visitor's first connection creates its contact (a script): it waits for the move too
      const visitor = track(await connect(widgetUrl(tenant.inbox['websiteToken'])))
      await must('new visitor', visitor, 'ping')
    })(),
    (async () => {
      await must('seen (agent)', ann, 'seen', { conversationId: seen.id })
      await must('seen (contact)', seen.w, 'seen', { conversationId: seen.id })
      await must('typing', ann, 'typing', { conversationId: seen.id, on: true })
      await must('update', ann, 'conversation.update', { conversationId: seen.id, priority: 'urgent', region: 'EU' })
    })(),
    (async () => {
      await must('edit', ann, 'message.update', { conversationId: edited.id, messageId: reply['id'], content: 'final' })
      await must('seen after an edit', edited.w, 'seen', { conversationId: edited.id })
      await must('delete', ann, 'message.delete', { conversationId: edited.id, messageId: reply['id'] })
    })(),
    (async () => {
      await must('assign', ann, 'conversation.assign', { conversationId: assigned.id, assigneeId: agentId(1) })
      await must('unassign', ann, 'conversation.assign', { conversationId: assigned.id, assigneeId: null })
      await must('assign auto', ann, 'conversation.assign', { conversationId: assigned.id, assigneeId: 'auto' })
    })(),
    (async () => {
      await must('resolve', ann, 'conversation.status', { conversationId: resolved.id, status: 'resolved' })
      await must('reopen', ann, 'conversation.status', { conversationId: resolved.id, status: 'open' })
      await must('pending', ann, 'conversation.status', { conversationId: resolved.id, status: 'pending' })
    })(),
    must('rate', rated.w, 'conversation.rate', { conversationId: rated.id, score: 5, comment: 'great' }),
    (async () => {
      await new Promise((r) => setTimeout(r, 1000))
      await must('online again (drains the queue)', ann, 'presence.set', { availability: 'online' })
      await must('bob online', bob, 'presence.set', { availability: 'online' })
    })(),
  ])
  await new Promise((r) => setTimeout(r, 2500)) // sweeps, wake-up and auto-resolve tick meanwhile
  const moved = await move.finish()
  await ops
  sending = false
  await Promise.all(loops)
  await new Promise((r) => setTimeout(r, 1500)) // the sweeps of the last ticks

  t.same(failures, [], 'no client got an error: every script ran with its keys local or waited')
  t.equal(await cluster.ownerOf(slot), to, `slot moved (${moved.keys} keys in ${moved.ms} ms)`)
  t.equal(Number(await cluster.node(from).call('CLUSTER', 'COUNTKEYSINSLOT', slot)), 0, 'no key left on the old owner')

  const r = cluster.node(to)
  const status = async (id: string) => r.hget(k.conversation(id), 'status')
  t.equal(await status(snoozed.id), 'open', 'the snooze ended in the window')
  t.equal(await status(idle.id), 'resolved', 'auto-resolved')
  t.equal(await status(resolved.id), 'pending')
  t.equal(await status(parked.id), 'snoozed')
  t.ok(await r.hget(k.conversation(rated.id), 'rating'), 'rated')
  t.ok(await r.hget(k.conversation(queued.id), 'assigneeId'), 'the queued conversation was drained')
  t.equal(await r.zscore(k.presence(accountId), agentId(2)), null, 'the agent that left went offline')
  t.equal(await r.zcard(k.inboxQueue(tenant.inbox['id'] as string)), 0, 'the queue is empty')

  // consistency: every conversation is on exactly the list of its status, loads match assignees,
  // each log holds msgCount messages + updCount updates
  const keys = (await r.call('CLUSTER', 'GETKEYSINSLOT', slot, 100_000)) as string[]
  const convs = keys.filter((key) => /:conv:[^:]+$/.test(key)).map((key) => key.slice(key.lastIndexOf(':') + 1))
  t.ok(convs.length >= 9, `${convs.length} conversations`)
  const loads = new Map<string, Set<string>>()
  for (const id of convs) {
    const h = await r.hgetall(k.conversation(id))
    const lists = await Promise.all(STATUSES.map((st) => r.zscore(k.inboxStatusList(h['inboxId'] ?? '', st), id)))
    t.same(STATUSES.filter((_, i) => lists[i] !== null), [h['status']], `${id}: on the list of its status only`)
    const entries = await r.xlen(k.conversationLog(id))
    t.equal(entries, Number(h['msgCount']) + Number(h['updCount'] ?? 0), `${id}: log entries = messages + updates`)
    if (h['status'] === 'open' && (h['assigneeId'] ?? '') !== '') loads.set(h['assigneeId'] as string, (loads.get(h['assigneeId'] as string) ?? new Set()).add(id))
    if (h['status'] === 'snoozed') t.ok(await r.zscore(k.snoozed, id), `${id}: snoozed and scheduled`)
  }
  for (let i = 0; i < 3; i++) {
    t.same(new Set(await r.zrange(k.agentOpen(agentId(i)), '0', '-1')), loads.get(agentId(i)) ?? new Set(), `agent ${i}: load = its open conversations`)
  }
  for (const id of await r.zrange(k.snoozed, '0', '-1')) t.equal(await status(id), 'snoozed', `${id}: scheduled and snoozed`)
})
