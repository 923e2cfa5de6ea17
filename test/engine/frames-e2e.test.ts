import t from 'tap'
import { Packr } from 'msgpackr'
import { createTenant } from '../helpers/admin.js'
import { connect } from '../helpers/client.js'
import { startEngine } from '../helpers/engine.js'
import { startTestRedis } from '../helpers/stack.js'

t.test('bad frames get error codes and the node keeps serving', async (t) => {
  const redis = await startTestRedis(t)
  const engine = await startEngine(t, {
    redisUrl: redis.url, env: { MAX_FRAME_BYTES: '4096', MAX_PAYLOAD_BYTES: '16384', GARBAGE_LIMIT: '3' },
  })
  const tenant = await createTenant(engine.http)
  const agentUrl = `${engine.ws}/ws/agent?token=${encodeURIComponent(tenant.agents[0]?.token ?? '')}`
  const widgetUrl = `${engine.ws}/ws/widget?website_token=${encodeURIComponent(tenant.inbox['websiteToken'] as string)}`

  t.test('malformed, unknown and forbidden frames', async (t) => {
    const c = await connect(agentUrl)
    c.sendRaw('{"op":')
    t.match(await c.waitFor((f) => f['op'] === 'reply' && f['ok'] === false), { ref: null, error: { code: 'bad_request' } })
    t.match(await c.request('no.such.op'), { ok: false, error: { code: 'bad_request', message: /unknown op/ } })
    t.match(await c.request('conversation.open'), { ok: false, error: { code: 'forbidden' } }, 'a contact op from an agent')
    c.send({ op: 'ping', ref: 'x' })
    t.match(await c.waitFor((f) => f['op'] === 'reply' && f['error']?.message?.includes('ref')), { ref: null, error: { code: 'bad_request' } })
    c.send({ op: 'ping', ref: 99, pad: 'x'.repeat(5000) })
    t.match(await c.waitFor((f) => f['error']?.code === 'too_large'), { ok: false, ref: null }, 'an oversized frame is not parsed, so its ref is unknown')
    t.match(await c.request('ping'), { ok: true }, 'still served')
    await c.close()
  })

  t.test('msgpack garbage gets an error reply', async (t) => {
    const c = await connect(widgetUrl, { codec: 'msgpack' })
    c.sendRaw(Buffer.from([0xc1]))
    t.match(await c.waitFor((f) => f['op'] === 'reply' && f['ok'] === false), { error: { code: 'bad_request' } })
    c.sendRaw(new Packr({ useRecords: false, moreTypes: true }).pack({ op: 'ping', ref: 5, r: /x/ }))
    t.match(await c.waitFor((f) => f['op'] === 'reply' && f['ok'] === false && f !== c.frames[1]), { error: { code: 'bad_request' } })
    t.match(await c.request('conversation.list'), { ok: false, error: { code: 'forbidden' } }, 'an agent op from a contact')
    await c.close()
  })

  t.test('repeated garbage closes with 1008', async (t) => {
    const c = await connect(agentUrl)
    for (let i = 0; i < 3; i++) c.sendRaw('garbage')
    const closed = await c.closed
    t.equal(closed.code, 1008)
    t.equal(c.frames.filter((f) => f['op'] === 'reply' && f['ok'] === false).length, 3, 'each bad frame got its error first')
  })

  t.test('a frame over the payload limit closes with 1009, others unaffected', async (t) => {
    const bystander = await connect(agentUrl)
    const c = await connect(agentUrl)
    c.sendRaw('x'.repeat(20_000))
    t.equal((await c.closed).code, 1009)
    t.match(await bystander.request('ping'), { ok: true })
    await bystander.close()
  })

  t.test('graceful shutdown closes sockets with 1012 and exits 0', async (t) => {
    const c = await connect(agentUrl)
    const code = engine.stop()
    t.equal((await c.closed).code, 1012)
    t.equal(await code, 0)
  })
})
