// Limits and refusals: a flood-limited send waits retryAfterMs and then succeeds (once); a
// rate-limited burst of sends all land; a forged token ends the client after at most 3 upgrade
// attempts (counted by the server) with one clear error and rejected calls — with `ws` (HTTP status
// known) and with a WHATWG-style WebSocket (status hidden, as in a browser); a revoked token (4001)
// ends it at once.
import t from 'tap'
import WebSocket from 'ws'
import { Redis } from 'ioredis'
import { createAgentClient, type WebSocketConstructor } from 'parley/client'
import { keysFor, partitionOf } from '../../../lua/keys.js'
import { ADMIN_TOKEN } from '../../helpers/engine.js'
import { FAST, next, sdkStack } from './fixture.js'

async function metric(http: string, name: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(name))
  return line === undefined ? 0 : Number(line.split(' ').pop())
}

t.test('flood_limited: the send waits retryAfterMs, then lands once', async (t) => {
  const s = await sdkStack(t, { inbox: { messagesPerMinute: 2 } })
  const widget = s.widget()
  await widget.whenSynced()
  const conv = await widget.openConversation()
  await widget.send(conv.id, 'one')
  await widget.send(conv.id, 'two')
  // age the flood window so that it frees up 1.5 s from now instead of in a minute
  const redis = new Redis(s.redis.url)
  t.teardown(() => redis.quit())
  const k = keysFor(partitionOf(s.tenant.account['id'] as string, 16))
  const members = await redis.zrange(k.conversationFlood(conv.id), "0", "-1")
  t.equal(members.length, 2, 'two messages in the window')
  const freeAt = Date.now() + 1500
  for (const m of members) await redis.zadd(k.conversationFlood(conv.id), "XX", String(freeAt - 60_000), m)
  const floodedBefore = await metric(s.engine.http, 'parley_errors_total{code="flood_limited"}')
  const started = Date.now()
  const m = await widget.send(conv.id, 'three')
  t.ok(Date.now() >= freeAt - 50, `resolved after the window freed (${Date.now() - started} ms)`)
  t.equal(m.content, 'three')
  t.ok(await metric(s.engine.http, 'parley_errors_total{code="flood_limited"}') > floodedBefore, 'the server said flood_limited first')
  const contents = (await s.serverHistory(conv.id)).map((x) => x['content'])
  t.equal(contents.filter((c) => c === 'three').length, 1, 'on the server once')
})

t.test('rate_limited: a burst over the op rate lands whole, in order', async (t) => {
  const s = await sdkStack(t, { env: { OPS_PER_SECOND: '5' } })
  const agent = s.agent()
  const widget = s.widget()
  await Promise.all([agent.whenSynced(), widget.whenSynced()])
  const conv = await widget.openConversation()
  const sends = Array.from({ length: 25 }, (_, i) => agent.send(conv.id, `burst ${i}`))
  const acked = await Promise.all(sends)
  t.equal(acked.length, 25)
  t.ok(await metric(s.engine.http, 'parley_errors_total{code="rate_limited"}') > 0, 'the server did rate-limit')
  const contents = (await s.serverHistory(conv.id)).map((x) => x['content'])
  t.same(contents, Array.from({ length: 25 }, (_, i) => `burst ${i}`), 'each once, in the order sent')
})

for (const flavour of ['ws (status known)', 'WebSocket option (status hidden)'] as const) {
  t.test(`a forged token: at most 3 upgrade attempts, closed, one error — ${flavour}`, async (t) => {
    const s = await sdkStack(t)
    const before = await metric(s.engine.http, 'parley_upgrades_total{status="401"}')
    const errors: { code: string; message: string }[] = []
    const states: string[] = []
    const client = createAgentClient({
      url: s.engine.http, token: `${s.tenant.account['id'] as string}.forgedforgedforgedforgedforged`, ...FAST,
      ...(flavour.startsWith('ws') ? {} : { WebSocket: WebSocket as unknown as WebSocketConstructor }),
    })
    t.teardown(() => client.close())
    client.on('error', (e) => errors.push(e))
    client.on('state', ({ state }) => states.push(state))
    const pending = client.request('agents.list').then(() => 'resolved', (e: { code: string }) => e.code)
    const closed = next(client, 'state', (d) => d.state === 'closed')
    await closed
    t.equal(await pending, 'unauthorized', 'the pending call is rejected')
    t.equal(errors.length, 1, 'one error event')
    t.match(errors[0], { code: 'unauthorized', message: /3 attempts/ })
    await new Promise((r) => setTimeout(r, 1500))
    t.equal(await metric(s.engine.http, 'parley_upgrades_total{status="401"}') - before, 3, 'the server saw exactly 3 upgrade attempts')
    t.same(states, ['closed'], 'never open, then closed for good')
    t.match(await client.send('cv_x', 'x').catch((e: unknown) => e), { code: 'unauthorized' }, 'later calls fail the same way')
  })
}

t.test('a revoked token (close 4001) ends the client at once', async (t) => {
  const s = await sdkStack(t)
  const agent = s.agent()
  await agent.whenSynced()
  const error = next(agent, 'error')
  const closed = next(agent, 'state', (d) => d.state === 'closed')
  const acct = s.tenant.account['id'] as string
  const res = await fetch(`${s.engine.http}/api/v1/accounts/${acct}/agents/${s.tenant.agents[0]?.agent['id'] as string}/token`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: '{}',
  })
  t.equal(res.status, 200)
  await closed
  t.match(await error, { code: 'unauthorized', message: /4001/ })
  t.equal(agent.state, 'closed')
})
