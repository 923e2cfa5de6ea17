// Parley on a real local Redis Cluster (3 masters + 3 replicas, test/helpers/cluster.ts): two
// engine nodes and the archiver with REDIS_CLUSTER_NODES, tenants whose partitions sit on every
// master. Fan-out across nodes goes through shard channels only: no master ever runs PUBLISH.
import t from 'tap'
import type { Json, Tenant } from '../helpers/admin.js'
import { connect } from '../helpers/client.js'
import { ADMIN_TOKEN } from '../helpers/engine.js'
import { clusterStack } from './fixture.js'

const isMsg = (conversationId: string, content: string) => (f: Json) =>
  f['op'] === 'event' && f['type'] === 'message.created' && f['data']?.message?.conversationId === conversationId && f['data'].message.content === content

/** commandstats calls of one command on one node (0 when it never ran). */
async function calls(node: { info(section: string): Promise<string> }, command: string): Promise<number> {
  const m = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(await node.info('commandstats'))
  return Number(m?.[1] ?? 0)
}

t.test('two engines and the archiver on a 3-master cluster', async (t) => {
  const { cluster, nodeA, nodeB, archiver, track, spreadTenants } = await clusterStack(t)
  // tenants until their partitions sit on all three masters
  const { tenants, onDistinctMasters } = await spreadTenants(3)
  t.equal(onDistinctMasters.length, 3, `${tenants.length} tenants live on all three masters`)

  await t.test('open, send and fan-out across nodes, for a tenant on every master', async (t) => {
    for (const tenant of tenants) {
      const site = encodeURIComponent(tenant.inbox['websiteToken'] as string)
      const agentA = track(await connect(`${nodeA.ws}/ws/agent?token=${encodeURIComponent(tenant.agents[0]?.token ?? '')}`))
      const agentB = track(await connect(`${nodeB.ws}/ws/agent?token=${encodeURIComponent(tenant.agents[1]?.token ?? '')}`, { codec: 'msgpack' }))
      const widget = track(await connect(`${nodeB.ws}/ws/widget?website_token=${site}`))
      const opened = await widget.request('conversation.open')
      t.equal(opened['ok'], true, 'conversation.open')
      const convId = opened['data'].conversation.id as string
      for (const a of [agentA, agentB]) t.ok(await a.waitFor((f) => f['type'] === 'conversation.created' && f['data'].conversation.id === convId))
      const sent = await widget.request('message.send', { conversationId: convId, content: 'hello from B', echoId: 'w1' })
      t.equal(sent['ok'], true, 'message.send')
      for (const a of [agentA, agentB]) t.ok(await a.waitFor(isMsg(convId, 'hello from B')), 'both nodes deliver')
      const reply = await agentA.request('message.send', { conversationId: convId, content: 'answer from A', echoId: 'a1' })
      t.equal(reply['ok'], true)
      t.ok(await widget.waitFor(isMsg(convId, 'answer from A')), 'the widget on B hears the agent on A')
      const again = await widget.request('message.send', { conversationId: convId, content: 'retry', echoId: 'w1' })
      t.equal(again['data'].message.id, sent['data'].message.id, 'echoId dedupe holds')
      const typing = await agentA.request('typing', { conversationId: convId, on: true })
      t.equal(typing['ok'], true)
      t.ok(await widget.waitFor((f) => f['type'] === 'typing' && f['data']?.conversationId === convId && f['data'].on === true), 'typing (an engine SPUBLISH) crosses nodes')
    }
  })

  await t.test('history beyond the hot tail and reports come from the archive', async (t) => {
    const tenant = tenants[0] as Tenant
    const site = encodeURIComponent(tenant.inbox['websiteToken'] as string)
    const agent = track(await connect(`${nodeA.ws}/ws/agent?token=${encodeURIComponent(tenant.agents[0]?.token ?? '')}`))
    const widget = track(await connect(`${nodeB.ws}/ws/widget?website_token=${site}`))
    const convId = (await widget.request('conversation.open'))['data'].conversation.id as string
    const sent: string[] = []
    for (let i = 0; i < 130; i++) {
      const r = await (i % 2 === 0 ? widget : agent).request('message.send', { conversationId: convId, content: `m${i}`, echoId: `h${i}` })
      sent.push(r['data'].message.id as string)
    }
    await archiver.waitForMessages(130)
    const ids: string[] = []
    let before: string | undefined
    for (let page = 0; page < 100; page++) {
      const r = await agent.request('history', { conversationId: convId, limit: 25, ...(before === undefined ? {} : { before }) })
      const msgs = (r['data'].messages as { id: string; type: string }[])
      ids.unshift(...msgs.filter((m) => m.type !== 'activity').map((m) => m.id))
      if (!r['data'].more || msgs.length === 0) break
      before = msgs[0]?.id
    }
    t.same(ids, sent, 'every message once, in order, across the Redis/PostgreSQL boundary')
    await agent.request('conversation.status', { conversationId: convId, status: 'resolved' })
    const since = Date.now() - 3_600_000
    const until = Date.now() + 3_600_000
    let summary: Json = {}
    for (let i = 0; i < 100 && summary['conversations']?.resolved !== 1; i++) {
      const res = await fetch(`${nodeB.http}/api/v1/accounts/${tenant.account['id']}/reports/summary?since=${since}&until=${until}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
      summary = ((await res.json()) as { summary: Json }).summary
      await new Promise((r) => setTimeout(r, 100))
    }
    t.equal(summary['conversations']?.resolved, 1, 'the resolve reached the report through the archiver')
  })

  await t.test('no master ran a classic PUBLISH; the shard channels carried the fan-out', async (t) => {
    const masters = await cluster.masters()
    t.equal(masters.length, 3)
    let spublish = 0
    for (const i of masters) {
      t.equal(await calls(cluster.node(i), 'publish'), 0, `master ${i}: no PUBLISH`)
      spublish += await calls(cluster.node(i), 'spublish')
    }
    t.ok(spublish > 0, `SPUBLISH ran ${spublish} times (scripts' calls included)`)
    for (const i of masters) t.ok(await calls(cluster.node(i), 'ssubscribe') > 0, `master ${i}: engines hold shard subscriptions`)
  })
})
