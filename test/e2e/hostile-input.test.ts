// Issue 10, items 2–4, against a real engine and Redis: frames that decode but are wrong are
// answered with their own ref and never close the socket; message.send needs an echoId; U+0000
// is refused (bad_request / HTTP 400) wherever a client can write text, and nothing is written.
import { createHmac } from 'node:crypto'
import t from 'tap'
import { adminPost } from '../helpers/admin.js'
import { connectRaw } from '../helpers/client.js'
import { e2eStack } from './fixture.js'

const NUL = '\u0000'

t.test('hostile input', async (t) => {
  const s = await e2eStack(t, { GARBAGE_LIMIT: '3' })
  const agent = await s.agent()
  const { client: widget, conversation } = await s.visitorWithConversation()
  const convId = conversation['id'] as string
  const logLength = () => s.redis.xlen(s.k.conversationLog(convId))

  t.test('item 2: decodable but invalid frames get their own ref and never close the socket', async (t) => {
    const nest = (n: number): string => (n === 0 ? '"x"' : `{"a":${nest(n - 1)}}`)
    const frames = [
      `{"op":"message.send","ref":9001,"conversationId":"${convId}","content":"deep","echoId":"d1","contentAttributes":${nest(9)}}`,
      `{"op":"history","ref":9002,"conversationId":"${convId}","limit":1e400}`,
      '{"ref":9003}',
      '{"op":"","ref":9004}',
      '{"op":7,"ref":9005}',
      '{"op":"no.such.op","ref":9006}',
    ]
    for (const f of frames) agent.sendRaw(f)
    for (let ref = 9001; ref <= 9006; ref++) {
      t.match(await agent.waitFor((f) => f['op'] === 'reply' && f['ref'] === ref), { ok: false, error: { code: 'bad_request' } }, `ref ${ref} answered`)
    }
    t.match(await agent.request('ping'), { ok: true }, `${frames.length} bad frames over a GARBAGE_LIMIT of 3 did not close the socket`)
    t.equal(agent.frames.filter((f) => f['op'] === 'reply' && f['ref'] === null).length, 0, 'no reply lost its ref')

    // msgpack: content as bin
    const packed = await connectRaw(s.urls.agent(), { codec: 'msgpack' })
    if ('refused' in packed) throw new Error('refused')
    t.teardown(() => packed.close())
    for (let i = 0; i < 4; i++) packed.send({ op: 'message.send', ref: 9100 + i, conversationId: convId, content: Buffer.from('bin'), echoId: `bin${i}` })
    for (let i = 0; i < 4; i++) {
      t.match(await packed.waitFor((f) => f['op'] === 'reply' && f['ref'] === 9100 + i), { ok: false, error: { code: 'bad_request', message: /`content` is binary/ } })
    }
    t.match(await packed.request('ping'), { ok: true })
    t.equal(await logLength(), 0, 'nothing was appended')

    // only undecodable bytes close it
    const victim = await connectRaw(s.urls.agent())
    if ('refused' in victim) throw new Error('refused')
    for (let i = 0; i < 3; i++) victim.sendRaw('{"op":')
    t.equal((await victim.closed).code, 1008)
  })

  t.test('item 3: message.send without echoId is bad_request and writes nothing', async (t) => {
    t.match(await widget.request('message.send', { conversationId: convId, content: 'no echo', echoId: undefined }), { ok: false, error: { code: 'bad_request', message: /echoId/ } })
    t.match(await agent.request('message.send', { conversationId: convId, content: 'null echo', echoId: null }), { ok: false, error: { code: 'bad_request', message: /echoId/ } })
    t.match(await agent.request('message.send', { conversationId: convId, content: 'empty echo', echoId: '' }), { ok: false, error: { code: 'bad_request' } })
    t.equal(await logLength(), 0)
    t.match(await widget.request('message.send', { conversationId: convId, content: 'with echo', echoId: 'e-1' }), { ok: true })
    t.equal(await logLength(), 1)
  })

  t.test('item 4: U+0000 is refused in every text a client writes', async (t) => {
    const before = await logLength()
    const refused: [typeof agent, string, Record<string, unknown>][] = [
      [widget, 'message.send', { conversationId: convId, content: `nul${NUL}byte`, echoId: 'n1' }],
      [agent, 'message.send', { conversationId: convId, content: 'ok', echoId: 'n2', contentAttributes: { deep: { list: [`x${NUL}`] } } }],
      [agent, 'message.send', { conversationId: convId, content: 'ok', echoId: 'n3', contentAttributes: { [`k${NUL}`]: 1 } }],
      [agent, 'message.send', { conversationId: convId, content: 'ok', echoId: `e${NUL}` }],
      [widget, 'contact.update', { name: `Ann${NUL}` }],
      [widget, 'contact.update', { customAttributes: { plan: { tier: `gold${NUL}` } } }],
      [widget, 'conversation.open', { additionalAttributes: { referrer: `x${NUL}` } }],
      [widget, 'conversation.rate', { conversationId: convId, score: 5, comment: `great${NUL}` }],
      [agent, 'conversation.update', { conversationId: convId, customAttributes: { a: NUL } }],
      [agent, 'conversation.update', { conversationId: convId, branch: `b${NUL}` }],
      [agent, 'conversation.update', { conversationId: convId, region: NUL }],
    ]
    for (const [client, op, params] of refused) {
      t.match(await client.request(op, params), { ok: false, error: { code: 'bad_request', message: /U\+0000/ } }, `${op} ${JSON.stringify(params)}`)
    }
    t.equal(await logLength(), before, 'no message was appended')
    const contact = await s.redis.hgetall(s.k.contact(widget.hello['contact'].id as string))
    t.notOk(JSON.stringify(contact).includes(NUL), 'the contact holds no NUL')
    const conv = await s.redis.hgetall(s.k.conversation(convId))
    t.notOk(JSON.stringify(conv).includes(NUL), 'the conversation holds no NUL')
    t.match(await widget.request('ping'), { ok: true }, 'still connected')

    // HTTP: API ingest and the admin API
    const ingest = await fetch(`${s.engine.http}/api/v1/inboxes/${s.tenant.inbox['id']}/messages`, {
      method: 'POST', headers: { authorization: `Bearer ${s.tenant.inbox['apiToken']}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sourceId: 'src-1', contact: { identifier: 'u-1' }, content: `a${NUL}b` }),
    })
    t.equal(ingest.status, 400)
    t.match(await ingest.json(), { error: { code: 'bad_request', message: /`content` holds U\+0000/ } })
    const ingestName = await fetch(`${s.engine.http}/api/v1/inboxes/${s.tenant.inbox['id']}/messages`, {
      method: 'POST', headers: { authorization: `Bearer ${s.tenant.inbox['apiToken']}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sourceId: 'src-2', contact: { identifier: 'u-2', name: `Bo${NUL}b` }, content: 'hi' }),
    })
    t.match({ status: ingestName.status, body: await ingestName.json() }, { status: 400, body: { error: { code: 'bad_request', message: /`contact\.name` holds U\+0000/ } } })
    t.equal(await s.redis.get(s.k.sourceDedupe(s.tenant.inbox['id'] as string, 'src-2')), null, 'the ingest wrote nothing')
    const acct = await adminPost(s.engine.http, '/api/v1/accounts', { name: `Ac${NUL}me` })
    t.match(acct, { status: 400, body: { error: { code: 'bad_request' } } })
    const inbox = await adminPost(s.engine.http, `/api/v1/accounts/${s.tenant.account['id']}/inboxes`, { name: 'x', allowedOrigins: [`https://a${NUL}.com`] })
    t.match(inbox, { status: 400, body: { error: { code: 'bad_request', message: /U\+0000/ } } })

    // the widget upgrade: a verified identifier is stored text too
    const identifier = `user${NUL}1`
    const hash = createHmac('sha256', s.tenant.inbox['hmacSecret'] as string).update(identifier).digest('hex')
    const up = await connectRaw(`${s.urls.widget()}&identifier=${encodeURIComponent(identifier)}&identifier_hash=${hash}`)
    t.match(up, { refused: true, status: 400, body: { error: { code: 'bad_request', message: /`identifier` holds U\+0000/ } } })
  })
})
