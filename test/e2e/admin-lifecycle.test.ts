// The admin API's changes reach live sockets at once: inbox settings, an agent's inboxes and role,
// removing an agent, rotating its token, a new inbox for connected administrators. Real engine and
// Redis; control notices travel over Redis pub/sub as on a multi-node deployment.
import t from 'tap'
import type { Json } from '../helpers/admin.js'
import { connect, connectRaw, type Client } from '../helpers/client.js'
import { ADMIN_TOKEN } from '../helpers/engine.js'
import { e2eStack, eventually } from './fixture.js'

async function call(http: string, method: string, path: string, body?: unknown, token = ADMIN_TOKEN): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${http}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: res.status, body: (await res.json()) as Json }
}

async function ok(c: Client, op: string, params: Json = {}): Promise<Json> {
  const r = await c.request(op, params)
  if (r['ok'] !== true) throw new Error(`${op} failed: ${JSON.stringify(r)}`)
  return r['data'] as Json
}

t.test('inbox settings: changed by PATCH, validated, applied at the next connection', async (t) => {
  const s = await e2eStack(t)
  const acct = s.tenant.account['id'] as string
  const inboxId = s.tenant.inbox['id'] as string
  const path = `/api/v1/accounts/${acct}/inboxes/${inboxId}`
  const r = await call(s.engine.http, 'PATCH', path, { name: 'Support', messagesPerMinute: 3, allowedOrigins: ['https://shop.test'], autoResolveAfterMs: 60_000 })
  t.equal(r.status, 200)
  t.match(r.body['inbox'], { id: inboxId, name: 'Support', messagesPerMinute: 3, allowedOrigins: ['https://shop.test'], autoAssign: false })
  t.equal(await s.redis.hget(s.k.inbox(inboxId), 'autoResolveAfterMs'), '60000', 'auto-resolve set through the same route')
  t.match((await s.events('inbox.updated')).map((e) => e.data).find((d) => Array.isArray(d['changed'])), {
    id: inboxId, name: 'Support', changed: ['name', 'allowedOrigins', 'messagesPerMinute'],
  }, 'one event with what changed, for the archive')

  t.match(await connectRaw(s.urls.widget(), { origin: 'https://other.test' }), { refused: true, status: 403 }, 'the new origin list applies')
  const w = s.track(await connect(s.urls.widget(), { origin: 'https://shop.test' }))
  const conv = (await ok(w, 'conversation.open'))['conversation']['id'] as string
  for (let i = 0; i < 3; i++) await ok(w, 'message.send', { conversationId: conv, content: `m${i}` })
  t.match(await w.request('message.send', { conversationId: conv, content: 'one too many' }), { ok: false, error: { code: 'flood_limited' } }, 'the new flood limit applies')

  t.equal((await call(s.engine.http, 'PATCH', path, { messagesPerMinute: 0 })).status, 400)
  t.equal((await call(s.engine.http, 'PATCH', path, { name: '' })).status, 400)
  t.equal((await call(s.engine.http, 'PATCH', path, { allowedOrigins: ['not an origin'] })).status, 400)
  t.equal((await call(s.engine.http, 'PATCH', `/api/v1/accounts/${acct}/inboxes/in_nosuchinbox0000000000000`, { name: 'x' })).status, 404)
  t.equal((await call(s.engine.http, 'PATCH', path, { name: 'x' }, 'wrong-token-wrong-token')).status, 401)
  const other = await call(s.engine.http, 'POST', '/api/v1/accounts', { name: 'Other' })
  t.equal((await call(s.engine.http, 'PATCH', `/api/v1/accounts/${other.body['account']['id'] as string}/inboxes/${inboxId}`, { name: 'x' })).status, 404, 'not through another account')
  t.equal((await call(s.engine.http, 'PATCH', path, {})).status, 200, 'an empty change is a no-op')
})

t.test('an agent\'s inboxes and role follow its live sockets; conversations it can no longer see are unassigned', async (t) => {
  const s = await e2eStack(t)
  const acct = s.tenant.account['id'] as string
  const inbox1 = s.tenant.inbox['id'] as string
  const a = s.tenant.agents[0]
  if (a === undefined) throw new Error('no agent')
  const aId = a.agent['id'] as string
  const boss = await call(s.engine.http, 'POST', `/api/v1/accounts/${acct}/agents`, { name: 'Boss', role: 'administrator', inboxIds: [] })
  const admin = await s.agent(boss.body['token'] as string)
  const agentA = await s.agent(a.token)

  // a new inbox: the administrator, connected before it existed, gets its events
  const inbox2 = (await call(s.engine.http, 'POST', `/api/v1/accounts/${acct}/inboxes`, { name: 'Second', autoAssign: false })).body['inbox'] as Json
  const w2 = s.track(await connect(`${s.engine.ws}/ws/widget?website_token=${encodeURIComponent(inbox2['websiteToken'] as string)}`))
  const c2 = (await ok(w2, 'conversation.open'))['conversation']['id'] as string
  await admin.waitFor((f) => f['type'] === 'conversation.created' && f['data']['conversation']['id'] === c2)
  t.pass('the administrator received the new inbox\'s conversation')

  // agent A holds a conversation in inbox 1, then is moved to inbox 2
  const { client: visitor, conversation } = await s.visitorWithConversation()
  const c1 = conversation['id'] as string
  await ok(agentA, 'conversation.assign', { conversationId: c1, assigneeId: aId })
  t.match(await agentA.request('conversation.list', { inboxId: inbox2['id'] }), { ok: false, error: { code: 'forbidden' } }, 'not a member of inbox 2 yet')
  const moved = await call(s.engine.http, 'PATCH', `/api/v1/accounts/${acct}/agents/${aId}`, { inboxIds: [inbox2['id']], name: 'Ada' })
  t.equal(moved.status, 200)
  t.match(moved.body, { agent: { id: aId, name: 'Ada', inboxIds: [inbox2['id']] }, unassigned: 1 })
  await admin.waitFor((f) => f['type'] === 'conversation.updated' && f['data']['conversation']['id'] === c1 && f['data']['conversation']['assigneeId'] === null)
  t.equal(await s.redis.hget(s.k.conversation(c1), 'assigneeId'), '', 'unassigned: A cannot see it any more')
  t.match((await ok(admin, 'history', { conversationId: c1 }))['messages'].at(-1), { type: 'activity', content: 'Conversation unassigned by an administrator' })
  t.notOk(await s.redis.sismember(s.k.inboxAgents(inbox1), aId), 'off the inbox\'s members (and so its rotation)')
  await visitor.waitFor((f) => f['type'] === 'presence.updated' && f['data']['agentsOnline'] === false)
  await w2.waitFor((f) => f['type'] === 'presence.updated' && f['data']['agentsOnline'] === true)
  t.pass('widgets hear who answers now: nobody left in inbox 1, A in inbox 2')

  await eventually(async () => ((await agentA.request('conversation.list', { inboxId: inbox2['id'] }))['ok'] === true ? true : undefined))
  t.pass('the live socket took the new inboxes')
  t.match(await agentA.request('conversation.get', { conversationId: c1 }), { ok: false, error: { code: 'forbidden' } })
  await ok(visitor, 'message.send', { conversationId: c1, content: 'still there?' })
  await admin.waitFor((f) => f['type'] === 'message.created' && f['data']['message']['content'] === 'still there?')
  await ok(w2, 'message.send', { conversationId: c2, content: 'hello inbox 2' })
  await agentA.waitFor((f) => f['type'] === 'message.created' && f['data']['message']['content'] === 'hello inbox 2')
  t.notOk(agentA.frames.some((f) => f['type'] === 'message.created' && f['data']?.['message']?.['content'] === 'still there?'), 'no events of the inbox it left')

  const promoted = await call(s.engine.http, 'PATCH', `/api/v1/accounts/${acct}/agents/${aId}`, { role: 'administrator' })
  t.match(promoted.body, { agent: { role: 'administrator' }, unassigned: 0 })
  await eventually(async () => ((await agentA.request('conversation.get', { conversationId: c1 }))['ok'] === true ? true : undefined))
  t.pass('an administrator sees every inbox')
  t.match((await s.events('agent.updated')).map((e) => e.data).filter((d) => Array.isArray(d['changed'])), [
    { agent: { id: aId, name: 'Ada', inboxIds: [inbox2['id']] }, changed: ['name', 'inboxIds'] },
    { agent: { id: aId, role: 'administrator' }, changed: ['role'] },
  ], 'events for the archive')

  const path = `/api/v1/accounts/${acct}/agents/${aId}`
  t.equal((await call(s.engine.http, 'PATCH', path, { inboxIds: ['in_nosuchinbox0000000000000'] })).status, 400)
  t.equal((await call(s.engine.http, 'PATCH', path, { maxConversations: 0 })).status, 400)
  t.equal((await call(s.engine.http, 'PATCH', path, { role: 'owner' })).status, 400)
  t.equal((await call(s.engine.http, 'PATCH', `/api/v1/accounts/${acct}/agents/ag_nosuchagent00000000000000`, { name: 'x' })).status, 404)
  t.equal((await call(s.engine.http, 'PATCH', `/api/v1/accounts/${acct}/agents/not-an-id`, { name: 'x' })).status, 404)
})

t.test('removing an agent: its sockets close with 4001, its token stops working, its conversations go round robin again', async (t) => {
  const s = await e2eStack(t, {}, { autoAssign: true })
  const acct = s.tenant.account['id'] as string
  const inboxId = s.tenant.inbox['id'] as string
  const a = s.tenant.agents[0]
  if (a === undefined) throw new Error('no agent')
  const b = await call(s.engine.http, 'POST', `/api/v1/accounts/${acct}/agents`, { name: 'Bo', inboxIds: [inboxId] })
  const sockets = new Map<string, Client>([[a.agent['id'] as string, await s.agent(a.token)], [b.body['agent']['id'] as string, await s.agent(b.body['token'] as string)]])
  const tokens = new Map<string, string>([[a.agent['id'] as string, a.token], [b.body['agent']['id'] as string, b.body['token'] as string]])
  await eventually(async () => ((await s.redis.zcard(s.k.presence(acct))) === 2 ? true : undefined))
  const { conversation } = await s.visitorWithConversation()
  const convId = conversation['id'] as string
  const holder = await eventually(async () => (await s.redis.hget(s.k.conversation(convId), 'assigneeId')) || undefined)
  const other = [...sockets.keys()].find((id) => id !== holder) as string

  const removed = await call(s.engine.http, 'DELETE', `/api/v1/accounts/${acct}/agents/${holder}`)
  t.same(removed, { status: 200, body: { removed: true, unassigned: 1 } })
  t.match(await sockets.get(holder)?.closed, { code: 4001 }, 'its socket is closed with 4001')
  t.equal(await eventually(async () => (await s.redis.hget(s.k.conversation(convId), 'assigneeId')) === other ? other : undefined), other, 'round robin gave it to the other agent')
  t.match(await connectRaw(s.urls.agent(tokens.get(holder))), { refused: true, status: 401 }, 'its token is refused')
  const agents = (await ok(sockets.get(other) as Client, 'agents.list'))['agents'] as Json[]
  t.same(agents.map((x) => x['id']), [other], 'no longer listed')
  t.notOk(await s.redis.sismember(s.k.inboxAgents(inboxId), holder))
  t.equal((await call(s.engine.http, 'DELETE', `/api/v1/accounts/${acct}/agents/${holder}`)).status, 404, 'removed once')
  t.equal((await call(s.engine.http, 'PATCH', `/api/v1/accounts/${acct}/agents/${holder}`, { name: 'back?' })).status, 404)
  t.match((await s.events('agent.removed')).map((e) => e.data), [{ id: holder, accountId: acct }])
  t.ok(await s.redis.hget(s.k.agent(holder), 'name'), 'its name stays for the messages it wrote')
})

t.test('rotating an agent\'s token: the old one stops working and its sockets close', async (t) => {
  const s = await e2eStack(t)
  const acct = s.tenant.account['id'] as string
  const a = s.tenant.agents[0]
  if (a === undefined) throw new Error('no agent')
  const before = await s.agent(a.token)
  const r = await call(s.engine.http, 'POST', `/api/v1/accounts/${acct}/agents/${a.agent['id'] as string}/token`, {})
  t.equal(r.status, 200)
  const token = r.body['token'] as string
  t.not(token, a.token)
  t.match(await before.closed, { code: 4001 })
  t.match(await connectRaw(s.urls.agent(a.token)), { refused: true, status: 401 }, 'the old token is refused')
  const after = await s.agent(token)
  t.equal(after.hello['agent']['id'], a.agent['id'], 'the new one signs in the same agent')
  t.equal((await call(s.engine.http, 'POST', `/api/v1/accounts/${acct}/agents/ag_nosuchagent00000000000000/token`, {})).status, 404)
})
