// Issue 10, item 5: a text frame that is not valid UTF-8. uWS checks every text message itself,
// before the engine sees it, and closes the TCP connection without a close frame (RFC 6455 would
// have 1007); it has no option to hand the frame over or to send a close frame first (uWebSockets
// WebSocketContext.h: forceClose(…, ERR_INVALID_TEXT) = us_socket_close). This test pins down the
// behaviour engine/PROTOCOL.md documents: the client sees 1006 (no close frame) at once, gets no
// reply, and nobody else on the node notices; binary (msgpack) frames are not checked by uWS.
import t from 'tap'
import { createTenant } from '../helpers/admin.js'
import { connect } from '../helpers/client.js'
import { startEngine } from '../helpers/engine.js'
import { startTestRedis } from '../helpers/stack.js'

t.test('invalid UTF-8 in a text frame', async (t) => {
  const redis = await startTestRedis(t)
  const engine = await startEngine(t, { redisUrl: redis.url })
  const tenant = await createTenant(engine.http)
  const agentUrl = `${engine.ws}/ws/agent?token=${encodeURIComponent(tenant.agents[0]?.token ?? '')}`

  const bystander = await connect(agentUrl)
  t.teardown(() => bystander.close())
  const c = await connect(agentUrl)
  const before = c.frames.length
  const sentAt = Date.now()
  // {"op":"ping","ref":1,"x":"<0xff>"}: a lone 0xff byte is never valid UTF-8
  c.ws.send(Buffer.concat([Buffer.from('{"op":"ping","ref":1,"x":"'), Buffer.from([0xff]), Buffer.from('"}')]), { binary: false })
  const closed = await c.closed
  t.equal(closed.code, 1006, 'closed without a close frame (the client reports 1006, not 1007)')
  t.equal(closed.reason, '')
  t.ok(Date.now() - sentAt < 2000, 'at once')
  t.equal(c.frames.length, before, 'no reply came before the close')
  t.match(await bystander.request('ping'), { ok: true }, 'another socket on the node is unaffected')

  // the same bytes inside a binary frame on a JSON connection are just an undecodable frame
  const d = await connect(agentUrl)
  d.ws.send(Buffer.concat([Buffer.from('{"op":"ping","ref":2,"x":"'), Buffer.from([0xff]), Buffer.from('"}')]), { binary: true })
  t.match(await d.waitFor((f) => f['op'] === 'reply' && f['ok'] === false), { error: { code: 'bad_request' } })
  t.match(await d.request('ping'), { ok: true })
  await d.close()
})
