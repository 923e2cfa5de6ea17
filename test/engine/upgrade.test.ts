import { createHmac } from 'node:crypto'
import t from 'tap'
import { createTenant } from '../helpers/admin.js'
import { connect, connectRaw, type Client } from '../helpers/client.js'
import { startEngine } from '../helpers/engine.js'
import { startTestRedis } from '../helpers/stack.js'

t.test('authenticated upgrade', async (t) => {
  const redis = await startTestRedis(t)
  const engine = await startEngine(t, { redisUrl: redis.url, env: { CONN_RATE_POINTS: '1000' } })
  const tenant = await createTenant(engine.http, { inbox: { allowedOrigins: ['https://acme.test'], messagesPerMinute: 40 } })
  const agentToken = tenant.agents[0]?.token ?? ''
  const site = tenant.inbox['websiteToken'] as string
  const widgetUrl = (q = '') => `${engine.ws}/ws/widget?website_token=${encodeURIComponent(site)}${q}`
  const open: Client[] = []
  t.teardown(() => Promise.all(open.map((c) => c.close())))

  for (const codec of ['json', 'msgpack'] as const) {
    t.test(`an agent and a widget get hello (${codec})`, async (t) => {
      const agent = await connect(`${engine.ws}/ws/agent?token=${encodeURIComponent(agentToken)}`, { codec })
      open.push(agent)
      t.match(agent.hello, {
        connectionId: String, role: 'agent', serverTime: Number, heartbeatMs: Number,
        limits: { maxFrameBytes: Number, maxContentChars: 150000, messagesPerMinute: Number },
        agent: { id: tenant.agents[0]?.agent['id'], online: true, availability: 'online' },
      })
      t.equal(agent.ws.protocol, codec === 'json' ? 'parley.v1.json' : 'parley.v1.msgpack')
      const pong = await agent.request('ping')
      t.match(pong, { op: 'reply', ok: true, data: { serverTime: Number } })

      const widget = await connect(widgetUrl(), { codec, origin: 'https://acme.test' })
      open.push(widget)
      t.match(widget.hello, {
        role: 'contact', limits: { messagesPerMinute: 40 },
        contact: { id: /^ct_/, verified: false, identifier: null }, session: String,
        inbox: { id: tenant.inbox['id'], name: 'Website', agentsOnline: true }, conversation: null,
      })
    })
  }

  t.test('no sub-protocol means JSON; an unknown one is refused', async (t) => {
    const c = await connectRaw(`${engine.ws}/ws/agent?token=${encodeURIComponent(agentToken)}`, { protocols: [] })
    t.notOk('refused' in c)
    if (!('refused' in c)) {
      t.equal(c.hello['role'], 'agent')
      await c.close()
    }
    const r = await connectRaw(`${engine.ws}/ws/agent?token=${encodeURIComponent(agentToken)}`, { protocols: ['mqtt'] })
    t.match(r, { refused: true, status: 400 })
  })

  t.test('a widget session resumes the same contact', async (t) => {
    const first = await connect(widgetUrl(), { origin: 'https://acme.test' })
    await first.close()
    const again = await connect(widgetUrl(`&session=${encodeURIComponent(first.hello['session'] as string)}`), { origin: 'https://acme.test' })
    t.equal(again.hello['contact'].id, first.hello['contact'].id)
    await again.close()
    const forged = await connectRaw(widgetUrl(`&session=${encodeURIComponent(first.hello['contact'].id + '.AAAA')}`), { origin: 'https://acme.test' })
    t.match(forged, { refused: true, status: 401, body: { error: { code: 'unauthorized' } } })
  })

  t.test('identifier + identifier_hash binds a verified contact; forged → 401', async (t) => {
    const secret = tenant.inbox['hmacSecret'] as string
    const hash = createHmac('sha256', secret).update('user-42').digest('hex')
    const a = await connect(widgetUrl(`&identifier=user-42&identifier_hash=${hash}`), { origin: 'https://acme.test' })
    t.match(a.hello['contact'], { identifier: 'user-42', verified: true })
    const b = await connect(widgetUrl(`&identifier=user-42&identifier_hash=${hash.toUpperCase()}`), { origin: 'https://acme.test' })
    t.equal(b.hello['contact'].id, a.hello['contact'].id, 'the same identity is the same contact')
    await Promise.all([a.close(), b.close()])
    const forgedHash = createHmac('sha256', 'not-the-secret').update('user-42').digest('hex')
    for (const q of [`&identifier=user-42&identifier_hash=${forgedHash}`, '&identifier=user-42', `&identifier_hash=${hash}`, `&identifier=user-43&identifier_hash=${hash}`]) {
      const r = await connectRaw(widgetUrl(q), { origin: 'https://acme.test' })
      t.match(r, { refused: true, status: 401, body: { error: { code: 'unauthorized', message: String } } }, q)
    }
  })

  t.test('bad credentials are 401, a foreign origin 403', async (t) => {
    t.match(await connectRaw(`${engine.ws}/ws/agent?token=nope`), { refused: true, status: 401 })
    t.match(await connectRaw(`${engine.ws}/ws/agent`), { refused: true, status: 401 })
    const forgedAgent = `${tenant.account['id']}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`
    t.match(await connectRaw(`${engine.ws}/ws/agent?token=${forgedAgent}`), { refused: true, status: 401 })
    t.match(await connectRaw(`${engine.ws}/ws/widget?website_token=nope`), { refused: true, status: 401 })
    t.match(await connectRaw(widgetUrl(), { origin: 'https://evil.test' }), { refused: true, status: 403, body: { error: { code: 'forbidden' } } })
    t.match(await connectRaw(widgetUrl()), { refused: true, status: 403 }, 'a missing origin is not an allowed one')
    // the inbox's api token is not an agent token
    t.match(await connectRaw(`${engine.ws}/ws/agent?token=${encodeURIComponent(tenant.inbox['apiToken'] as string)}`), { refused: true, status: 401 })
  })
})

t.test('a connection flood from one address gets 429', async (t) => {
  const redis = await startTestRedis(t)
  const engine = await startEngine(t, { redisUrl: redis.url, env: { CONN_RATE_POINTS: '5', CONN_RATE_WINDOW_SEC: '60' } })
  const tenant = await createTenant(engine.http, { agents: 1 })
  const url = `${engine.ws}/ws/agent?token=${encodeURIComponent(tenant.agents[0]?.token ?? '')}`
  const results = []
  for (let i = 0; i < 8; i++) results.push(await connectRaw(url))
  const refused = results.filter((r) => 'refused' in r)
  t.equal(refused.length, 3, 'attempts past the limit are refused')
  t.match(refused[0], { status: 429, body: { error: { code: 'rate_limited', retryAfterMs: Number } } })
  await Promise.all(results.map((r) => ('refused' in r ? null : r.close())))
})

t.test('503 while Redis is unreachable', async (t) => {
  const redis = await startTestRedis(t)
  const engine = await startEngine(t, { redisUrl: redis.url })
  const tenant = await createTenant(engine.http)
  await redis.stop()
  const deadline = Date.now() + 10_000
  while ((await fetch(`${engine.http}/readyz`)).status !== 503 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  t.equal((await fetch(`${engine.http}/readyz`)).status, 503)
  t.equal((await fetch(`${engine.http}/healthz`)).status, 200, 'still alive')
  const r = await connectRaw(`${engine.ws}/ws/agent?token=${encodeURIComponent(tenant.agents[0]?.token ?? '')}`)
  t.match(r, { refused: true, status: 503, body: { error: { code: 'unavailable' } } })
})
