import t from 'tap'
import { createTenant } from '../helpers/admin.js'
import { connect } from '../helpers/client.js'
import { startEngine } from '../helpers/engine.js'
import { startTestRedis } from '../helpers/stack.js'

t.test('a client that stops reading is cut off; the others keep receiving', async (t) => {
  const redis = await startTestRedis(t)
  const engine = await startEngine(t, { redisUrl: redis.url, env: { MAX_BACKPRESSURE_BYTES: '262144', OPS_PER_SECOND: '100000' } })
  const tenant = await createTenant(engine.http, { agents: 3, inbox: { messagesPerMinute: 100000 } })
  const url = (i: number) => `${engine.ws}/ws/agent?token=${encodeURIComponent(tenant.agents[i]?.token ?? '')}`
  const slow = await connect(url(0))
  const fast = await connect(url(1))
  const sender = await connect(url(2))
  const widget = await connect(`${engine.ws}/ws/widget?website_token=${encodeURIComponent(tenant.inbox['websiteToken'] as string)}`)
  const convId = (await widget.request('conversation.open'))['data'].conversation.id as string
  // the slow client stops reading from its socket: the kernel buffers fill, then the server's
  const raw = (slow.ws as unknown as { _socket: { pause: () => void; resume: () => void } })._socket
  raw.pause()
  // loopback kernel buffers absorb several MB before the server's own buffer grows: send ~19 MB
  const content = 'x'.repeat(16_000)
  let last = ''
  for (let i = 0; i < 1200; i++) {
    sender.send({ op: 'message.send', conversationId: convId, content: `${i} ${content}` })
    if (i % 50 === 49) last = (await sender.request('ping'))['data'].serverTime
  }
  const final = await sender.request('message.send', { conversationId: convId, content: 'the end' })
  t.equal(final['ok'], true)
  await fast.waitFor((f) => f['type'] === 'message.created' && f['data'].message.content === 'the end', 20_000)
  t.equal(fast.frames.filter((f) => f['type'] === 'message.created' && f['data'].message.type === 'outgoing').length, 1201, 'the fast reader got every message')
  const metrics = await (await fetch(`${engine.http}/metrics`)).text()
  t.match(metrics, /parley_errors_total\{code="slow_consumer"\} 1/, 'counted as a slow consumer')
  raw.resume()
  const closed = await slow.closed
  t.equal(closed.code, 4008, 'the slow reader was closed with the slow-consumer code')
  t.ok(last !== '')
  await Promise.all([fast.close(), sender.close(), widget.close()])
})
