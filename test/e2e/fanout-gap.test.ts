// Live delivery has no silent gap (engine/fanout/sequencer.ts): agents whose WebSocket stays open
// receive every acknowledged message exactly once, in order, while (1) the engines' subscriber
// connections are killed again and again under load, and (2) redis-server is SIGKILLed and
// restarted from its AOF, several times in a row, under load. Sends refused meanwhile
// (`unavailable`) are re-sent with the same echoId, as the reconnect recipe says.
import { Redis } from 'ioredis'
import t from 'tap'
import { keysFor, partitionOf } from '../../lua/keys.js'
import { createTenant, type Json, type Tenant } from '../helpers/admin.js'
import { connect, type Client } from '../helpers/client.js'
import { startEngine } from '../helpers/engine.js'
import { startTestRedis, startCrashableRedis } from '../helpers/stack.js'
import { eventually, PARTITIONS, urls } from './fixture.js'

// a hot tail long enough to hold every message of the run: the log is what the agents are compared with
const ENV = { CONN_RATE_POINTS: '10000', OPS_PER_SECOND: '100000', HOT_TAIL: '100000' }

/** Sends until acknowledged, re-sending the same echoId after `unavailable` (and on a timeout). */
async function sendAcked(c: Client, conversationId: string, content: string, echoId: string): Promise<string> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const r = await Promise.race([
      c.request('message.send', { conversationId, content, echoId }),
      new Promise<Json>((resolve) => setTimeout(() => resolve({ ok: false, error: { code: 'timeout' } }), 3000)),
    ])
    if (r['ok'] === true) return r['data']['message']['id'] as string
    const code = r['error']?.['code'] as string
    if (code !== 'unavailable' && code !== 'timeout') throw new Error(`message.send: ${JSON.stringify(r)}`)
    await new Promise((res) => setTimeout(res, (r['error']?.['retryAfterMs'] as number | undefined) ?? 100))
  }
  throw new Error('never acknowledged')
}

/** The ids of the non-activity messages a client received as message.created, in arrival order. */
const received = (c: Client, conversationId: string) => c.events('message.created')
  .map((f) => f['data']['message'] as Json)
  .filter((m) => m['conversationId'] === conversationId && m['type'] !== 'activity')
  .map((m) => m['id'] as string)

async function allArrived(t: Tap, agents: Client[], conversationId: string, acked: string[], what: string): Promise<void> {
  for (const [i, agent] of agents.entries()) {
    await eventually(async () => (received(agent, conversationId).length >= acked.length ? true : undefined), 15_000).catch(() => undefined)
    const got = received(agent, conversationId)
    t.same(got, acked, `${what}: agent ${i + 1} got every acknowledged message exactly once, in order (${acked.length})`)
    t.equal(agent.ws.readyState, agent.ws.OPEN, `${what}: agent ${i + 1} stayed connected`)
  }
}

/** The conversation log's message ids (no activities), in log order: the order every client must see. */
async function logIds(r: Redis, tenant: Tenant, conversationId: string): Promise<string[]> {
  const k = keysFor(partitionOf(tenant.account['id'] as string, PARTITIONS))
  const entries = (await r.xrange(k.conversationLog(conversationId), '-', '+')) as [string, string[]][]
  return entries.filter(([, f]) => (JSON.parse(f[1] as string) as Json)['type'] !== 'activity').map(([id]) => id)
}

/** Two engine nodes on one Redis, an agent connected to each, a widget on B with an open conversation. */
async function twoNodes(t: { teardown(fn: () => unknown): void }, redisUrl: string) {
  const a = await startEngine(t, { redisUrl, env: ENV })
  const b = await startEngine(t, { redisUrl, env: ENV })
  const tenant = await createTenant(a.http, { inbox: { autoAssign: false, messagesPerMinute: 100000 } })
  const agentA = await connect(urls(a, tenant).agent())
  const agentB = await connect(urls(b, tenant).agent())
  const widget = await connect(urls(b, tenant).widget())
  t.teardown(() => Promise.all([agentA.close(), agentB.close(), widget.close()]))
  const conversationId = (await widget.request('conversation.open'))['data']['conversation']['id'] as string
  return { a, b, tenant, agentA, agentB, widget, conversationId }
}

type Tap = { same(a: unknown, b: unknown, m: string): void; equal(a: unknown, b: unknown, m: string): void }

t.test('subscriber connections killed under load: connected agents on both nodes miss nothing', async (t) => {
  const server = await startTestRedis(t)
  const { tenant, agentA, agentB, widget, conversationId } = await twoNodes(t, server.url)
  const admin = new Redis(server.url)
  t.teardown(() => admin.quit())

  const acked: string[] = []
  let kills = 0
  let sending = true
  const killer = (async () => {
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 150))
      kills += Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'))
    }
    await new Promise((r) => setTimeout(r, 150))
    sending = false
  })()
  // two senders: the widget on node B and the agent on node A
  const sender = async (c: Client, tag: string) => {
    for (let i = 0; sending; i++) acked.push(await sendAcked(c, conversationId, `${tag} ${i}`, `${tag}-${i}`))
  }
  await Promise.all([killer, sender(widget, 'w'), sender(agentA, 'a')])
  t.ok(kills >= 6, `subscriber connections killed ${kills} times while messages flowed`)
  const logged = await logIds(admin, tenant, conversationId)
  t.same([...acked].sort(), [...logged].sort(), 'every acknowledged message is in the log, once')
  await allArrived(t, [agentA, agentB], conversationId, logged, 'after the kills')
})

t.test('redis-server SIGKILLed and restarted 3 times under load: connected agents miss nothing', async (t) => {
  const redis = await startCrashableRedis(t)
  const { a, b, tenant, agentA, agentB, widget, conversationId } = await twoNodes(t, redis.url)

  const acked: string[] = []
  let sending = true
  const crasher = (async () => {
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 700))
      await redis.crash()
      await new Promise((r) => setTimeout(r, 1000))
      await redis.restart()
    }
    await eventually(async () => ((await fetch(`${b.http}/readyz`)).status === 200 && (await fetch(`${a.http}/readyz`)).status === 200 ? true : undefined), 15_000)
    await new Promise((r) => setTimeout(r, 500))
    sending = false
  })()
  const sender = async (c: Client, tag: string) => {
    for (let i = 0; sending; i++) acked.push(await sendAcked(c, conversationId, `${tag} ${i}`, `${tag}-${i}`))
  }
  await Promise.all([crasher, sender(widget, 'w'), sender(agentA, 'a')])
  const admin = new Redis(redis.url)
  t.teardown(() => admin.quit())
  const logged = await logIds(admin, tenant, conversationId)
  t.same([...acked].sort(), [...logged].sort(), 'every acknowledged message survived the crashes, once')
  await allArrived(t, [agentA, agentB], conversationId, logged, 'after 3 crashes')
})
