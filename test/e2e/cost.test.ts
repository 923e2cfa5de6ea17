import t from 'tap'
import { Redis } from 'ioredis'
import { createTenant } from '../helpers/admin.js'
import { connect } from '../helpers/client.js'
import { startEngine } from '../helpers/engine.js'
import { startTestRedis } from '../helpers/stack.js'

/** Counts of commands by name from INFO commandstats (commands run inside scripts included). */
async function commandCounts(r: Redis): Promise<Map<string, number>> {
  const info = await r.info('commandstats')
  const out = new Map<string, number>()
  for (const m of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) out.set(m[1] as string, Number(m[2]))
  return out
}

t.test('one inbound message costs one script call, whose one PUBLISH does the fan-out', async (t) => {
  const redis = await startTestRedis(t)
  // no background sweeps or heartbeats inside the measured window
  const engine = await startEngine(t, { redisUrl: redis.url, env: { SWEEP_MS: '600000', SCHEDULER_MS: '600000', HEARTBEAT_MS: '600000', PRESENCE_GRACE_MS: '1800000' } })
  const tenant = await createTenant(engine.http)
  const agent = await connect(`${engine.ws}/ws/agent?token=${encodeURIComponent(tenant.agents[0]?.token ?? '')}`)
  const widget = await connect(`${engine.ws}/ws/widget?website_token=${encodeURIComponent(tenant.inbox['websiteToken'] as string)}`)
  const convId = (await widget.request('conversation.open'))['data'].conversation.id as string
  await widget.request('message.send', { conversationId: convId, content: 'warm up' })
  await agent.waitFor((f) => f['type'] === 'message.created')
  const r = new Redis(redis.url)
  t.teardown(() => r.quit())
  await new Promise((res) => setTimeout(res, 200))
  await r.config('RESETSTAT')
  await widget.request('message.send', { conversationId: convId, content: 'measured', echoId: 'm1' })
  await agent.waitFor((f) => f['type'] === 'message.created' && f['data'].message.content === 'measured')
  const counts = await commandCounts(r)
  counts.delete('config|resetstat')
  counts.delete('info')
  const fromClients = [...counts].filter(([name]) => ['evalsha', 'eval'].includes(name) || !['xadd', 'hset', 'hgetall', 'publish', 'zadd', 'pexpire', 'zremrangebyscore', 'zcard', 'hget', 'get', 'zrem', 'hincrby', 'set', 'time'].includes(name))
  t.same(Object.fromEntries(fromClients), { evalsha: 1 }, 'the engine sent exactly one command: the append script')
  t.equal(counts.get('publish'), 1, 'the script published once')
  t.equal(counts.get('xadd'), 3, 'conversation log + partition stream + notice log (the fan-out catch-up)')
  t.equal(counts.get('time'), 1, 'one TIME for the notice log window')
  t.comment(`commands run for one inbound message: ${JSON.stringify(Object.fromEntries(counts))}`)
  await Promise.all([agent.close(), widget.close()])
})
