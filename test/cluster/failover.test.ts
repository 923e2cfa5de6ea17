// Acknowledged means replicated (REDIS_WAIT_REPLICAS=1) on a real local Redis Cluster: 200 widgets
// chat through two engine nodes while the master of their partition is killed (-9). Its replica
// is promoted; the engines and the archiver carry on without a restart; the killed node comes
// back as the new master's replica (until then the partition answers `unavailable`: nothing can
// be confirmed on a replica). Widgets retry `unavailable` with the same echoId. In the end every
// acknowledged message is in PostgreSQL exactly once, nothing is there twice, and the agent that
// stayed connected heard every message the cluster kept, once, in order.
import t from 'tap'
import postgres from 'postgres'
import { DEFAULT_PARTITIONS, keysFor, partitionOf } from '../../lua/keys.js'
import { keySlot } from '../../lua/slot.js'
import { compareStreamIds } from '../../lua/stream-id.js'
import { createTenant, type Json } from '../helpers/admin.js'
import { connect, type Client } from '../helpers/client.js'
import { startTestCluster } from '../helpers/cluster.js'
import { ackedLostTotal, startEngine } from '../helpers/engine.js'
import { startTestPostgres } from '../helpers/stack.js'
import { startArchiver } from '../archiver/proc.js'

const WIDGETS = Number(process.env['FAILOVER_WIDGETS'] ?? 200)
/** each widget sends one message, waits for its answer, then pauses this long */
const PAUSE_MS = 800

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test(`kill -9 of a busy master with REDIS_WAIT_REPLICAS=1: ${WIDGETS} widgets, 0 acknowledged lost`, async (t) => {
  const cluster = await startTestCluster(t)
  const pg = await startTestPostgres(t)
  const wait = { REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '500' }
  const env = { REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.seeds, DATABASE_URL: pg.url, CONN_RATE_POINTS: '100000', ...wait }
  const nodeA = await startEngine(t, { redisUrl: '', env })
  const nodeB = await startEngine(t, { redisUrl: '', env })
  await startArchiver(t, '', pg.url, { REDIS_CLUSTER_NODES: cluster.seeds, ...wait })
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} })
  t.teardown(() => sql.end())
  const tenant = await createTenant(nodeA.http, { inbox: { messagesPerMinute: 100_000 } })
  const slot = keySlot(keysFor(partitionOf(tenant.account['id'] as string, DEFAULT_PARTITIONS)).events)
  const clients: Client[] = []
  t.teardown(() => Promise.all(clients.map((c) => c.close())))

  const agent = await connect(`${nodeA.ws}/ws/agent?token=${encodeURIComponent(tenant.agents[0]?.token ?? '')}`)
  clients.push(agent)
  const site = encodeURIComponent(tenant.inbox['websiteToken'] as string)
  const widgets: { client: Client; convId: string; acked: string[] }[] = []
  for (let i = 0; i < WIDGETS; i += 20) {
    await Promise.all(Array.from({ length: Math.min(20, WIDGETS - i) }, async (_, j) => {
      const client = await connect(`${(i + j) % 2 === 0 ? nodeA.ws : nodeB.ws}/ws/widget?website_token=${site}`)
      clients.push(client)
      const convId = (await client.request('conversation.open'))['data'].conversation.id as string
      widgets.push({ client, convId, acked: [] })
    }))
  }

  let going = true
  const hard: Json[] = []
  let unavailable = 0
  const loops = widgets.map(async (w, wi) => {
    await sleep((wi * PAUSE_MS) / WIDGETS) // spread the sends over the pause
    for (let n = 0; going; n++) {
      for (let attempt = 0; ; attempt++) {
        const r = await w.client.request('message.send', { conversationId: w.convId, content: `f${n}`, echoId: `f${n}` }, 20_000)
        if (r['ok'] === true) {
          const id = r['data'].message.id as string
          if (!w.acked.includes(id)) w.acked.push(id)
          break
        }
        if (r['error']?.code !== 'unavailable' || attempt > 200) { hard.push(r); break }
        unavailable++
        await sleep(Math.min(Number(r['error'].retryAfterMs ?? 200), 300))
      }
      await sleep(PAUSE_MS)
    }
  })

  await sleep(1500)
  const victim = await cluster.ownerOf(slot)
  const killedAt = Date.now()
  process.kill((cluster.nodes[victim] as { pid: number }).pid, 'SIGKILL')
  let promoted = -1
  for (let i = 0; i < 300 && promoted < 0; i++) {
    await sleep(100)
    const owner = await cluster.ownerOf(slot).catch(() => -1)
    if (owner >= 0 && owner !== victim) promoted = owner
  }
  t.ok(promoted >= 0, `the replica took over in ${Date.now() - killedAt} ms`)
  await cluster.restart(victim)
  t.comment(`the killed node is a synced replica again ${Date.now() - killedAt} ms after the kill`)
  await sleep(2000)
  going = false
  await Promise.all(loops)
  t.same(hard, [], 'every answer was ok or unavailable')
  t.ok(unavailable > 0, `${unavailable} unavailable answers while the partition had no replica to confirm on`)

  // every acknowledged message exactly once in PostgreSQL; nothing there twice
  const acked = widgets.reduce((n, w) => n + w.acked.length, 0)
  const convIds = widgets.map((w) => w.convId)
  const count = async () => Number((await sql<{ n: string }[]>`select count(*) as n from messages where conversation_id = any(${convIds}) and type = 'incoming'`)[0]?.n)
  for (let i = 0; i < 300 && (await count()) < acked; i++) await sleep(100)
  const rows = await sql<{ conversation_id: string; stream_id: string; echo_id: string }[]>`
    select conversation_id, stream_id, echo_id from messages where conversation_id = any(${convIds}) and type = 'incoming'`
  const inPg = new Map<string, Set<string>>()
  const echoes = new Set<string>()
  let twice = 0
  for (const r of rows) {
    const ids = inPg.get(r.conversation_id) ?? new Set<string>()
    inPg.set(r.conversation_id, ids)
    if (ids.has(r.stream_id) || echoes.has(`${r.conversation_id}/${r.echo_id}`)) twice++
    ids.add(r.stream_id)
    echoes.add(`${r.conversation_id}/${r.echo_id}`)
  }
  const lost = widgets.reduce((n, w) => n + w.acked.filter((id) => inPg.get(w.convId)?.has(id) !== true).length, 0)
  t.ok(acked > WIDGETS, `${acked} messages acknowledged`)
  t.equal(lost, 0, 'no acknowledged message is missing from PostgreSQL')
  t.equal(twice, 0, `nothing archived twice (${rows.length} rows)`)
  t.equal(await ackedLostTotal([nodeA, nodeB]), 0, 'and the engines, looking after the failover, found none of theirs lost (parley_acked_lost_total)')

  // the agent that stayed connected heard every kept message once, in order
  const tally = () => {
    const heard = new Map<string, string[]>()
    for (const f of agent.frames) {
      if (f['type'] !== 'message.created' || f['data']?.message?.sender?.type !== 'contact') continue
      const m = f['data'].message as { conversationId: string; id: string }
      heard.set(m.conversationId, [...(heard.get(m.conversationId) ?? []), m.id])
    }
    let missed = 0
    let disordered = 0
    const sample: string[] = []
    for (const w of widgets) {
      const got = heard.get(w.convId) ?? []
      if (new Set(got).size !== got.length) disordered++
      if (got.join() !== [...got].sort(compareStreamIds).join()) disordered++
      const gone = [...(inPg.get(w.convId) ?? [])].filter((id) => !got.includes(id))
      missed += gone.length
      if (gone.length > 0 && sample.length < 5) sample.push(`${w.convId}: ${gone.join(',')} (heard ${got.length})`)
    }
    return { missed, disordered, sample }
  }
  let result = tally()
  for (let i = 0; i < 50 && result.missed > 0; i++) {
    await sleep(100)
    result = tally()
  }
  const { missed, disordered, sample } = result
  t.equal(missed, 0, `the connected agent missed nothing the cluster kept ${sample.join('; ')}`)
  t.equal(disordered, 0, 'and heard each conversation once, in order')
})
