// Parley on a real local Redis Cluster while it changes under load: a busy partition's slot moved
// live to another master (as `redis-cli --cluster reshard` does): writes to the moving partition
// wait (TRYAGAIN is retried) and are neither lost nor duplicated, order is kept per conversation,
// and the engines' shard subscriptions follow the slot to its new owner. Then its master is
// killed (-9), its replica cut off just before: the replica is promoted, the engines carry on
// without a restart, clients that retry `unavailable` with the same echoId end with each message
// once, in order, and what the master acknowledged alone and took with it is exactly what the
// engines' `parley_acked_lost_total` counts. In between, every
// shard subscriber connection is killed under load: connected agents still get everything once.
import t from 'tap'
import { DEFAULT_PARTITIONS, keysFor, partitionOf } from '../../lua/keys.js'
import { keySlot } from '../../lua/slot.js'
import { createTenant, type Json } from '../helpers/admin.js'
import { connect, type Client } from '../helpers/client.js'
import { startTestCluster } from '../helpers/cluster.js'
import { ackedLostTotal, startEngine } from '../helpers/engine.js'

const CONVERSATIONS = 8

t.test('the cluster changes under load: a slot moved, subscribers killed, a master killed', async (t) => {
  const cluster = await startTestCluster(t)
  const env = { REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.seeds, CONN_RATE_POINTS: '10000', OPS_PER_SECOND: '10000',
    // no hot-tail trimming: history must show every kept message, so what it lacks was lost
    HOT_TAIL: '1000000' }
  const nodeA = await startEngine(t, { redisUrl: '', env })
  const nodeB = await startEngine(t, { redisUrl: '', env })
  const tenant = await createTenant(nodeA.http, { inbox: { messagesPerMinute: 100_000 } })
  const clients: Client[] = []
  t.teardown(() => Promise.all(clients.map((c) => c.close())))
  const track = (c: Client) => (clients.push(c), c)
  const slot = keySlot(keysFor(partitionOf(tenant.account['id'] as string, DEFAULT_PARTITIONS)).events)

  const agent = track(await connect(`${nodeA.ws}/ws/agent?token=${encodeURIComponent(tenant.agents[0]?.token ?? '')}`))
  const site = encodeURIComponent(tenant.inbox['websiteToken'] as string)
  const widgets: { client: Client; convId: string; sent: string[] }[] = []
  for (let i = 0; i < CONVERSATIONS; i++) {
    const client = track(await connect(`${nodeB.ws}/ws/widget?website_token=${site}`))
    const convId = (await client.request('conversation.open'))['data'].conversation.id as string
    widgets.push({ client, convId, sent: [] })
  }

  // every widget sends one message after the other until told to stop; latencies and failures kept
  let sending = true
  const failures: Json[] = []
  const latencies: { at: number; ms: number }[] = []
  const loops = widgets.map(async (w) => {
    for (let n = 0; sending; n++) {
      const start = Date.now()
      const r = await w.client.request('message.send', { conversationId: w.convId, content: `m${n}`, echoId: `e${n}` })
      latencies.push({ at: start, ms: Date.now() - start })
      if (r['ok'] === true) w.sent.push(r['data'].message.id as string)
      else failures.push(r)
    }
  })
  await new Promise((r) => setTimeout(r, 500))
  const from = await cluster.ownerOf(slot)
  const to = (await cluster.masters()).find((m) => m !== from) as number
  const moveStart = Date.now()
  const move = await cluster.moveSlot(slot, to, { batch: 5, pauseMs: 20 })
  const moveEnd = Date.now()
  t.equal(await cluster.ownerOf(slot), to, `slot ${slot} moved (${move.keys} keys in ${move.ms} ms)`)
  await new Promise((r) => setTimeout(r, 500))
  sending = false
  await Promise.all(loops)

  t.same(failures, [], 'no write to the moving partition failed')
  const before = latencies.filter((l) => l.at < moveStart).map((l) => l.ms)
  const during = latencies.filter((l) => l.at >= moveStart && l.at <= moveEnd).map((l) => l.ms)
  t.comment(`send latency: before the move max ${Math.max(...before)} ms over ${before.length}, during max ${Math.max(...during, 0)} ms over ${during.length}`)

  for (const w of widgets) {
    const ids: string[] = []
    let before: string | undefined
    for (let page = 0; page < 200; page++) {
      const hist = await agent.request('history', { conversationId: w.convId, limit: 100, ...(before === undefined ? {} : { before }) })
      const msgs = hist['data'].messages as { id: string; type: string }[]
      ids.unshift(...msgs.filter((m) => m.type !== 'activity').map((m) => m.id))
      if (hist['data'].more !== true || msgs.length === 0) break
      before = msgs[0]?.id
    }
    t.same(ids, w.sent, `conversation ${w.convId}: all ${w.sent.length} messages once, in send order`)
  }

  // the subscriptions followed the slot: a message sent now reaches the agent on the other node
  const w = widgets[0] as (typeof widgets)[number]
  const r = await w.client.request('message.send', { conversationId: w.convId, content: 'after the move', echoId: 'after' })
  t.equal(r['ok'], true)
  t.ok(await agent.waitFor((f) => f['type'] === 'message.created' && f['data']?.message?.content === 'after the move', 10_000), 'live delivery on the new owner')
  // message ids are per conversation log: match both
  const missed = widgets.reduce((n, x) => n + x.sent.filter((id) => !agent.frames.some((f) => f['type'] === 'message.created' &&
    f['data']?.message?.conversationId === x.convId && f['data'].message.id === id)).length, 0)
  t.equal(missed, 0, 'the connected agent missed nothing: notices published on the importing node are caught up from the notice log')

  await t.test('shard subscriber connections killed (CLIENT KILL) while messages flow', async (t) => {
    let flowing = true
    const sentNow = new Map<string, string[]>()
    const flows = widgets.map(async (w) => {
      const ids: string[] = []
      sentNow.set(w.convId, ids)
      for (let n = 0; flowing; n++) {
        const r = await w.client.request('message.send', { conversationId: w.convId, content: `k${n}`, echoId: `k${n}` }, 15_000)
        if (r['ok'] === true) ids.push(r['data'].message.id as string)
        else if (r['error']?.code !== 'unavailable') t.fail(`unexpected answer ${JSON.stringify(r)}`)
      }
    })
    await new Promise((r) => setTimeout(r, 300))
    let killed = 0
    for (const i of await cluster.masters()) killed += Number(await cluster.node(i).call('CLIENT', 'KILL', 'TYPE', 'pubsub'))
    await new Promise((r) => setTimeout(r, 1500))
    flowing = false
    await Promise.all(flows)
    t.ok(killed >= 6, `${killed} shard subscriber connections killed (both engines, every master)`)
    const last = widgets[widgets.length - 1] as (typeof widgets)[number]
    const lastId = sentNow.get(last.convId)?.at(-1)
    await agent.waitFor((f) => f['type'] === 'message.created' && f['data']?.message?.id === lastId, 10_000)
    for (const w of widgets) {
      const ids = sentNow.get(w.convId) ?? []
      const wanted = new Set(ids)
      const got = agent.frames.filter((f) => f['type'] === 'message.created' && f['data']?.message?.conversationId === w.convId &&
        wanted.has(f['data'].message.id)).map((f) => f['data'].message.id as string)
      t.same(got, ids, `${w.convId}: the agent on the other node got all ${ids.length} messages once, in order`)
    }
  })

  await t.test('kill -9 of the master of a busy partition', async (t) => {
    const victim = await cluster.ownerOf(slot)
    const pid = (cluster.nodes[victim] as { pid: number }).pid
    // a second tenant whose partition lives on another master keeps working meanwhile
    let other = await createTenant(nodeB.http)
    for (let i = 0; i < 30 && await cluster.ownerOf(keySlot(keysFor(partitionOf(other.account['id'] as string, DEFAULT_PARTITIONS)).events)) === victim; i++) {
      other = await createTenant(nodeB.http)
    }
    const otherWidget = track(await connect(`${nodeA.ws}/ws/widget?website_token=${encodeURIComponent(other.inbox['websiteToken'] as string)}`))
    const otherConv = (await otherWidget.request('conversation.open'))['data'].conversation.id as string

    let going = true
    const unavailable: number[] = []
    const hard: Json[] = []
    const acked = new Map<string, string[]>()
    const sendLoops = widgets.map(async (w) => {
      const ids: string[] = []
      acked.set(w.convId, ids)
      for (let n = 0; going; n++) {
        for (let attempt = 0; ; attempt++) {
          const r = await w.client.request('message.send', { conversationId: w.convId, content: `f${n}`, echoId: `f${n}` }, 15_000)
          if (r['ok'] === true) {
            const id = r['data'].message.id as string
            if (!ids.includes(id)) ids.push(id)
            break
          }
          if (r['error']?.code !== 'unavailable' || attempt > 100) { hard.push(r); break }
          unavailable.push(Number(r['error'].retryAfterMs ?? 0))
          await new Promise((res) => setTimeout(res, Math.min(Number(r['error'].retryAfterMs ?? 200), 500)))
        }
      }
    })
    await new Promise((r) => setTimeout(r, 300))
    // its replica is cut off first (frozen, its link closed by the master), so what the master
    // acknowledges from now on lives on the master alone and dies with it (no REDIS_WAIT_REPLICAS)
    const replicaPid = (cluster.nodes[await cluster.replicaOf(victim)] as { pid: number }).pid
    t.teardown(() => { try { process.kill(replicaPid, 'SIGCONT') } catch { /* gone */ } })
    process.kill(replicaPid, 'SIGSTOP')
    await cluster.node(victim).call('CLIENT', 'KILL', 'TYPE', 'replica')
    await new Promise((r) => setTimeout(r, 600))
    const killedAt = Date.now()
    process.kill(pid, 'SIGKILL')
    process.kill(replicaPid, 'SIGCONT')
    // the other master's partitions answer while the victim's are failing over (full coverage off)
    const during = await otherWidget.request('message.send', { conversationId: otherConv, content: 'during the failover' }, 15_000)
    const duringMs = Date.now() - killedAt
    let promoted = -1
    for (let i = 0; i < 200 && promoted < 0; i++) {
      await new Promise((r) => setTimeout(r, 100))
      const owner = await cluster.ownerOf(slot).catch(() => -1)
      if (owner >= 0 && owner !== victim) promoted = owner
    }
    const promotedMs = Date.now() - killedAt
    await new Promise((r) => setTimeout(r, 1500))
    going = false
    await Promise.all(sendLoops)
    t.ok(promoted >= 0, `a replica took over in ${promotedMs} ms`)
    t.equal(during['ok'], true, `a partition on another master answered meanwhile (${duringMs} ms)`)
    t.same(hard, [], 'no answer other than ok or unavailable')
    t.comment(`unavailable answers while failing over: ${unavailable.length} (retryAfterMs ${[...new Set(unavailable)].join(',')})`)

    let lostTotal = 0
    for (const w of widgets) {
      const kept: string[] = []
      const keptIds = new Set<string>()
      let before: string | undefined
      for (let page = 0; page < 200; page++) {
        const hist = await agent.request('history', { conversationId: w.convId, limit: 100, ...(before === undefined ? {} : { before }) })
        const msgs = hist['data'].messages as { id: string; type: string; content: string }[]
        const mine = msgs.filter((m) => m.type !== 'activity' && m.content.startsWith('f'))
        kept.unshift(...mine.map((m) => m.content))
        for (const m of mine) keptIds.add(m.id)
        if (hist['data'].more !== true || msgs.length === 0) break
        before = msgs[0]?.id
      }
      t.equal(new Set(kept).size, kept.length, `${w.convId}: nothing duplicated (${kept.length} kept)`)
      const order = kept.map((c) => Number(c.slice(1)))
      t.same(order, [...order].sort((a, b) => a - b), 'kept in send order')
      lostTotal += (acked.get(w.convId) ?? []).filter((id) => !keptIds.has(id)).length
    }
    t.ok(lostTotal > 0, `${lostTotal} acknowledged messages lost with the killed master (its replica cut off, no REDIS_WAIT_REPLICAS)`)
    // what was lost is what the alarm counts: the engines that acknowledged them noticed at the catch-up
    const alarmed = () => ackedLostTotal([nodeA, nodeB])
    let counted = await alarmed()
    for (let i = 0; i < 100 && counted !== lostTotal; i++) {
      await new Promise((r) => setTimeout(r, 100))
      counted = await alarmed()
    }
    t.equal(counted, lostTotal, 'parley_acked_lost_total on the engines counts exactly the acknowledged messages Redis lost')
    for (const e of [nodeA, nodeB]) {
      let status = 0
      for (let i = 0; i < 150 && status !== 200; i++) {
        status = (await fetch(`${e.http}/readyz`)).status
        if (status !== 200) await new Promise((res) => setTimeout(res, 100))
      }
      t.equal(status, 200, 'engine ready again (every partition subscribed), not restarted')
    }
    const r = await widgets[1]?.client.request('message.send', { conversationId: widgets[1]?.convId, content: 'after the failover', echoId: 'after-f' })
    t.equal(r?.['ok'], true)
    t.ok(await agent.waitFor((f) => f['type'] === 'message.created' && f['data']?.message?.content === 'after the failover', 10_000),
      'live delivery from the promoted replica')
  })
})
