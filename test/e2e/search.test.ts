// Search from the HTTP and the WebSocket side: message content, contact name/email, display id;
// an agent finds only its inboxes' conversations, private notes only agents can search; paging,
// edits, bad input. Real engine, archiver, Redis and PostgreSQL.
import t from 'tap'
import { adminPost, createTenant, type Json } from '../helpers/admin.js'
import { connect, type Client } from '../helpers/client.js'
import { ADMIN_TOKEN, startEngine } from '../helpers/engine.js'
import { startTestPostgres, startTestRedis } from '../helpers/stack.js'
import { startArchiver } from '../archiver/proc.js'
import { eventually } from './fixture.js'

t.test('search: visibility, ranking, paging, bad input', async (t) => {
  const server = await startTestRedis(t)
  const pg = await startTestPostgres(t)
  await startArchiver(t, server.url, pg.url)
  const engine = await startEngine(t, { redisUrl: server.url, env: { DATABASE_URL: pg.url, CONN_RATE_POINTS: '10000' } })
  const tenant = await createTenant(engine.http, { inbox: { autoAssign: false } })
  const acct = tenant.account['id'] as string
  const sales = (await adminPost(engine.http, `/api/v1/accounts/${acct}/inboxes`, { name: 'Sales', autoAssign: false })).body['inbox'] as Json
  const sam = (await adminPost(engine.http, `/api/v1/accounts/${acct}/agents`, { name: 'Sam', inboxIds: [sales['id']] })).body as Json
  const boss = (await adminPost(engine.http, `/api/v1/accounts/${acct}/agents`, { name: 'Boss', role: 'administrator', inboxIds: [] })).body as Json
  const other = await createTenant(engine.http)
  const clients: Client[] = []
  t.teardown(() => Promise.all(clients.map((c) => c.close())))
  const open = async (url: string) => { const c = await connect(url); clients.push(c); return c }
  const ok = async (c: Client, op: string, params: Json = {}): Promise<Json> => {
    const r = await c.request(op, params)
    if (r['ok'] !== true) throw new Error(`${op} failed: ${JSON.stringify(r)}`)
    return r['data'] as Json
  }
  const agentWs = (token: string) => open(`${engine.ws}/ws/agent?token=${encodeURIComponent(token)}`)
  const ann = await agentWs(tenant.agents[0]?.token ?? '')
  const samWs = await agentWs(sam['token'] as string)
  const vera = await open(`${engine.ws}/ws/widget?website_token=${encodeURIComponent(tenant.inbox['websiteToken'] as string)}`)
  await ok(vera, 'contact.update', { name: 'Vera Lindqvist', email: 'vera@example.com' })
  const web = (await ok(vera, 'conversation.open'))['conversation'] as Json
  await ok(vera, 'message.send', { conversationId: web['id'], content: 'My order 4711 never arrived, the parcel is lost' })
  const note = (await ok(ann, 'message.send', { conversationId: web['id'], content: 'refund approved for order 4711', private: true }))['message'] as Json
  const typo = (await ok(ann, 'message.send', { conversationId: web['id'], content: 'We are sending a replacment parcel' }))['message'] as Json
  const buyer = await open(`${engine.ws}/ws/widget?website_token=${encodeURIComponent(sales['websiteToken'] as string)}`)
  const sold = (await ok(buyer, 'conversation.open'))['conversation'] as Json
  await ok(buyer, 'message.send', { conversationId: sold['id'], content: 'Is order 4711 eligible for the discount?' })
  const theirs = await open(`${engine.ws}/ws/widget?website_token=${encodeURIComponent(other.inbox['websiteToken'] as string)}`)
  const foreign = (await ok(theirs, 'conversation.open'))['conversation'] as Json
  await ok(theirs, 'message.send', { conversationId: foreign['id'], content: 'order 4711 from another account' })

  const http = async (query: Record<string, string>, token = ADMIN_TOKEN, account = acct) => {
    const res = await fetch(`${engine.http}/api/v1/accounts/${account}/search?${new URLSearchParams(query).toString()}`, { headers: { authorization: `Bearer ${token}` } })
    return { status: res.status, body: (await res.json()) as Json }
  }
  const found = (r: Json) => (r['results'] as Json[]).map((x) => [x['conversation']['id'], x['message']?.['content'] ?? null])
  // archived: the admin sees all three of the account's messages about 4711
  await eventually(async () => ((await http({ q: '4711' })).body['results']?.length === 3 ? true : undefined), 10_000)

  await t.test('HTTP: the admin token sees every inbox; an agent token only its own', async (t) => {
    const all = await http({ q: '4711' })
    t.equal(all.status, 200)
    t.same(new Set(found(all.body).map((x) => x[0])), new Set([web['id'], sold['id']]), 'both inboxes, never the other account')
    t.match(all.body['results'][0], { conversation: { id: String, displayId: Number, status: 'open' }, message: { id: String, conversationId: String } })
    const samSees = await http({ q: '4711' }, sam['token'] as string)
    t.same(found(samSees.body), [[sold['id'], 'Is order 4711 eligible for the discount?']], 'Sam: only Sales')
    const bossSees = await http({ q: '4711' }, boss['token'] as string)
    t.equal(bossSees.body['results'].length, 3, 'an administrator agent: every inbox, notes included')
    t.equal((await http({ q: '4711' }, other.agents[0]?.token ?? '')).status, 404, "another account's agent")
    t.equal((await http({ q: '4711' }, 'nope')).status, 401)
    t.same(found((await http({ q: '4711', inboxId: sales['id'] as string })).body).map((x) => x[0]), [sold['id']], 'narrowed to an inbox')
  })

  await t.test('WebSocket: the same rules; contacts cannot search', async (t) => {
    const annSees = await ok(ann, 'search', { q: '4711' })
    t.same(new Set(found(annSees).map((x) => x[1])), new Set(['My order 4711 never arrived, the parcel is lost', 'refund approved for order 4711']), 'Ann: Web only, her inbox, with the private note')
    t.same(found(await ok(samWs, 'search', { q: '4711' })).map((x) => x[0]), [sold['id']])
    t.same(found(await ok(ann, 'search', { q: '4711', inboxId: sales['id'] })), [], 'an inbox she is not in: nothing, not an error')
    t.match(await vera.request('search', { q: '4711' }), { ok: false, error: { code: 'forbidden' } })
    t.same((await ok(ann, 'search', { q: 'refund' }))['results'].map((r: Json) => r['message']['id']), [note['id']])
  })

  await t.test('contacts by name, email, identifier prefix; conversations by display id; status', async (t) => {
    t.match((await ok(ann, 'search', { q: 'vera lind' }))['results'], [{ conversation: { id: web['id'] } }], 'every word as a prefix of the name')
    t.notOk((await ok(ann, 'search', { q: 'vera lind' }))['results'][0]['message'], 'a contact hit carries no message')
    t.match((await ok(ann, 'search', { q: 'vera@example.com' }))['results'][0], { conversation: { id: web['id'] } })
    t.match((await http({ q: `#${sold['displayId'] as number}` })).body['results'][0], { conversation: { id: sold['id'] } }, 'display id first')
    t.same(found(await ok(ann, 'search', { q: `${sold['displayId'] as number}` })), [], 'not to an agent of another inbox')
    t.same(found((await http({ q: '4711', status: 'resolved' })).body), [], 'status filter')
    t.equal(found((await http({ q: '4711', status: 'open' })).body).length, 3)
  })

  await t.test('ranked, paged by cursor', async (t) => {
    const p1 = await http({ q: 'order 4711', limit: '1' })
    t.equal(p1.body['results'].length, 1)
    t.type(p1.body['cursor'], 'string')
    const p2 = await http({ q: 'order 4711', limit: '1', cursor: p1.body['cursor'] as string })
    const p3 = await http({ q: 'order 4711', limit: '1', cursor: p2.body['cursor'] as string })
    t.equal(p3.body['cursor'], null, 'three hits, three pages')
    t.equal(new Set([p1, p2, p3].map((p) => JSON.stringify(found(p.body)))).size, 3, 'no hit twice')
    const phrase = await http({ q: '"parcel is lost"' })
    t.same(found(phrase.body).map((x) => x[1]), ['My order 4711 never arrived, the parcel is lost'], 'web-search syntax: a quoted phrase')
  })

  await t.test('an edit is searchable once archived; a deleted message is not found', async (t) => {
    await ok(ann, 'message.update', { conversationId: web['id'], messageId: typo['id'], content: 'We are sending a replacement parcel' })
    await eventually(async () => (found(await ok(ann, 'search', { q: 'replacement' })).length === 1 ? true : undefined), 10_000)
    t.same(found(await ok(ann, 'search', { q: 'replacment' })), [], 'the old wording is gone')
    await ok(ann, 'message.delete', { conversationId: web['id'], messageId: note['id'] })
    await eventually(async () => (found(await ok(ann, 'search', { q: 'refund' })).length === 0 ? true : undefined), 10_000)
    t.pass('deleted content is not searchable')
  })

  await t.test('bad input: 400 bad_request', async (t) => {
    t.match(await http({}), { status: 400, body: { error: { code: 'bad_request', message: /`q` is required/ } } })
    t.match(await http({ q: 'x'.repeat(10_240) }), { status: 400, body: { error: { code: 'bad_request', message: /query string is over/ } } })
    t.match(await http({ q: 'x'.repeat(201) }), { status: 400, body: { error: { code: 'bad_request', message: /`q` is over 200 characters/ } } })
    t.match(await http({ q: 'a', status: 'gone' }), { status: 400, body: { error: { message: /`status` must be one of/ } } })
    t.match(await http({ q: 'a', cursor: 'zzz' }), { status: 400, body: { error: { message: /`cursor`/ } } })
    t.match(await ann.request('search', { q: 'x'.repeat(10_240) }), { ok: false, error: { code: 'bad_request', message: /over 200/ } })
    t.match(await ann.request('search', { q: 42 }), { ok: false, error: { code: 'bad_request' } })
    t.match(await ann.request('search', { q: "')) or 1=1 --  & | ! :*" }), { ok: true }, 'operators are text, not syntax errors')
  })
})
