// An engine that is up but not ready (its Redis is down) refuses upgrades with 503. That is an
// outage, not a bad token: a client whose WebSocket hides the status (as a browser's does) keeps
// reconnecting through it — far past 3 attempts — thanks to the CORS-readable /readyz probe, and
// comes back synced when Redis does, its outbox delivered once.
import { startCrashableRedis } from '../../helpers/stack.js'
import t from 'tap'
import WebSocket from 'ws'
import { createAgentClient, createWidgetClient, type WebSocketConstructor } from 'parley/client'
import { createTenant } from '../../helpers/admin.js'
import { startEngine } from '../../helpers/engine.js'
import { FAST, next, until } from './fixture.js'

async function metric(http: string, name: string): Promise<number> {
  const line = (await (await fetch(`${http}/metrics`)).text()).split('\n').find((l) => l.startsWith(name))
  return line === undefined ? 0 : Number(line.split(' ').pop())
}

t.test('503 while Redis is down is waited out, not taken for a refusal', async (t) => {
  const redis = await startCrashableRedis(t)
  const engine = await startEngine(t, { redisUrl: redis.url, env: { CONN_RATE_POINTS: '10000' } })
  const tenant = await createTenant(engine.http, { inbox: { autoAssign: false } })
  const WS = WebSocket as unknown as WebSocketConstructor
  const widget = createWidgetClient({ url: engine.http, websiteToken: tenant.inbox['websiteToken'] as string, WebSocket: WS, ...FAST })
  const agent = createAgentClient({ url: engine.http, token: tenant.agents[0]?.token ?? '', WebSocket: WS, ...FAST })
  t.teardown(() => {
    widget.close()
    agent.close()
  })
  await Promise.all([widget.whenSynced(), agent.whenSynced()])
  const conv = await widget.openConversation()
  await agent.get(conv.id)
  await agent.history(conv.id)
  const errors: unknown[] = []
  widget.on('error', (e) => errors.push(e))

  await redis.crash()
  await until(async () => (await fetch(`${engine.http}/readyz`)).status === 503, 10_000, 'the engine to say not ready')
  // the open sockets stay up through a Redis outage: freeze the node a moment so pings time out and
  // the clients reconnect into the 503s
  const refusedBefore = await metric(engine.http, 'parley_upgrades_total{status="503"}')
  engine.proc.kill('SIGSTOP') // freeze the node: sockets go silent, pings time out
  await next(widget, 'state', (d) => d.state === 'reconnecting', 10_000)
  engine.proc.kill('SIGCONT')
  const pending = widget.send(conv.id, 'written during the outage')
  await until(async () => (await metric(engine.http, 'parley_upgrades_total{status="503"}')) - refusedBefore >= 8, 20_000, '8 refused upgrades')
  t.not(widget.state, 'closed', 'still trying after 8 refusals with 503')
  t.same(errors, [], 'no error told')

  await redis.restart()
  await Promise.all([next(widget, 'synced', (d) => d.reconnect === true, 30_000), next(agent, 'synced', (d) => d.reconnect === true, 30_000)])
  t.equal((await pending).content, 'written during the outage')
  await until(() => agent.messages(conv.id).some((m) => m.content === 'written during the outage'), 10_000, 'the agent to hold it')
  t.equal(agent.messages(conv.id).filter((m) => m.content === 'written during the outage').length, 1, 'once')
})
