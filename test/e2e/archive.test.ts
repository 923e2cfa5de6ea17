// The whole loop with every real part: engine + archiver processes, Redis and PostgreSQL.
import t from 'tap'
import { Redis } from 'ioredis'
import { DEFAULT_PARTITIONS, keysFor, partitionOf } from '../../lua/keys.js'
import { createTenant } from '../helpers/admin.js'
import { ADMIN_TOKEN, startEngine } from '../helpers/engine.js'
import { startTestPostgres, startTestRedis } from '../helpers/stack.js'
import { startArchiver } from '../archiver/proc.js'
import { agentAndWidget } from './fixture.js'

t.test('history pages from Redis into PostgreSQL; reports come from the archive', async (t) => {
  const redis = await startTestRedis(t)
  const pg = await startTestPostgres(t)
  const archiver = await startArchiver(t, redis.url, pg.url)
  const engine = await startEngine(t, { redisUrl: redis.url, env: { DATABASE_URL: pg.url, HOT_TAIL: '10' } })
  const tenant = await createTenant(engine.http)
  const { agent, widget } = await agentAndWidget(t, engine, tenant)
  const convId = (await widget.request('conversation.open'))['data'].conversation.id as string
  const sent: string[] = []
  // MAXLEN ~ trims whole stream nodes (100 entries): 130 messages leave a short hot tail, so
  // history really has to continue from PostgreSQL
  const N = 130
  for (let i = 0; i < N; i++) {
    const who = i % 2 === 0 ? widget : agent
    const r = await who.request('message.send', { conversationId: convId, content: `m${i}`, echoId: `e${i}` })
    sent.push(r['data'].message.id as string)
  }
  await archiver.waitForMessages(N)

  const client = new Redis(redis.url)
  const hot = await client.xlen(keysFor(partitionOf(tenant.account['id'] as string, DEFAULT_PARTITIONS)).conversationLog(convId))
  await client.quit()
  t.ok(hot < 50, `the Redis log holds only the hot tail (${hot} of ${N + 1} entries)`)

  const pages: string[][] = []
  let before: string | undefined
  for (;;) {
    const r = await agent.request('history', { conversationId: convId, limit: 7, ...(before === undefined ? {} : { before }) })
    t.equal(r['ok'], true)
    const ids = (r['data'].messages as { id: string; type: string }[]).filter((m) => m.type !== 'activity').map((m) => m.id)
    pages.unshift(ids)
    if (!r['data'].more || r['data'].messages.length === 0) break
    before = r['data'].messages[0].id
  }
  const all = pages.flat()
  t.same(all, sent, 'every message once, in order, across the Redis/PostgreSQL boundary')
  t.ok(pages.length >= N / 7, `paged ${pages.length} times`)

  await agent.request('conversation.status', { conversationId: convId, status: 'resolved' })
  await widget.request('conversation.rate', { conversationId: convId, score: 4, comment: 'good' })
  const since = Date.now() - 3_600_000
  let summary: Record<string, any> = {}
  const until = Date.now() + 3_600_000
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${engine.http}/api/v1/accounts/${tenant.account['id']}/reports/summary?since=${since}&until=${until}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    t.equal(res.status, 200)
    summary = ((await res.json()) as { summary: Record<string, any> }).summary
    if (summary['csat']?.count === 1 && summary['conversations']?.resolved === 1) break
    await new Promise((r) => setTimeout(r, 100))
  }
  t.match(summary, {
    conversations: { open: 0, pending: 0, snoozed: 0, resolved: 1 },
    messages: { incoming: N / 2, outgoing: N / 2 },
    firstResponseMs: { count: 1, mean: Number },
    resolutionMs: { count: 1, mean: Number },
    csat: { count: 1, mean: 4 },
  })
  const noAuth = await fetch(`${engine.http}/api/v1/accounts/${tenant.account['id']}/reports/summary?since=${since}&until=${until}`)
  t.equal(noAuth.status, 401)
  const bad = await fetch(`${engine.http}/api/v1/accounts/${tenant.account['id']}/reports/summary?since=x`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  t.equal(bad.status, 400)
})
