// message.update and message.delete across two engine nodes, through history, resume, echoId
// repeats, the archive, and eviction + rehydration. Real engines, archiver, Redis and PostgreSQL.
import t from 'tap'
import { Redis } from 'ioredis'
import postgres from 'postgres'
import { DEFAULT_PARTITIONS, keysFor, partitionOf } from '../../lua/keys.js'
import { adminPost, createTenant, type Json } from '../helpers/admin.js'
import { connect, type Client } from '../helpers/client.js'
import { startEngine } from '../helpers/engine.js'
import { startTestPostgres, startTestRedis } from '../helpers/stack.js'
import { startArchiver } from '../archiver/proc.js'
import { eventually } from './fixture.js'

t.test('edit and delete: events on both nodes, history, resume, archive, eviction', async (t) => {
  const server = await startTestRedis(t)
  const pg = await startTestPostgres(t)
  await startArchiver(t, server.url, pg.url)
  const env = { DATABASE_URL: pg.url, HOT_TAIL: '10', RETENTION_MS: '1000', SWEEP_MS: '100', CONN_RATE_POINTS: '10000', OPS_PER_SECOND: '1000', MESSAGE_EDIT_WINDOW_MS: '60000' }
  const nodeA = await startEngine(t, { redisUrl: server.url, env })
  const nodeB = await startEngine(t, { redisUrl: server.url, env })
  const tenant = await createTenant(nodeA.http, { agents: 2, inbox: { autoAssign: false } })
  const acct = tenant.account['id'] as string
  const admin = await adminPost(nodeA.http, `/api/v1/accounts/${acct}/agents`, { name: 'Boss', role: 'administrator', inboxIds: [] })
  const redis = new Redis(server.url)
  t.teardown(() => redis.quit())
  const sql = postgres(pg.url, { max: 2, onnotice: () => {} })
  t.teardown(() => sql.end())
  const k = keysFor(partitionOf(acct, DEFAULT_PARTITIONS))
  const clients: Client[] = []
  t.teardown(() => Promise.all(clients.map((c) => c.close())))
  const open = async (url: string, codec: 'json' | 'msgpack' = 'json') => {
    const c = await connect(url, { codec })
    clients.push(c)
    return c
  }
  const ok = async (c: Client, op: string, params: Json = {}): Promise<Json> => {
    const r = await c.request(op, params)
    if (r['ok'] !== true) throw new Error(`${op} failed: ${JSON.stringify(r)}`)
    return r['data'] as Json
  }
  const agentUrl = (node: typeof nodeA, token: string) => `${node.ws}/ws/agent?token=${encodeURIComponent(token)}`
  const ann = await open(agentUrl(nodeA, tenant.agents[0]?.token ?? ''))
  const bob = await open(agentUrl(nodeB, tenant.agents[1]?.token ?? ''), 'msgpack')
  const boss = await open(agentUrl(nodeB, admin.body['token'] as string))
  const widget = await open(`${nodeB.ws}/ws/widget?website_token=${encodeURIComponent(tenant.inbox['websiteToken'] as string)}`)
  const conv = (await ok(widget, 'conversation.open'))['conversation']['id'] as string

  const hello = (await ok(widget, 'message.send', { conversationId: conv, content: 'my card is 4111 1111', echoId: 'w1' }))['message'] as Json
  const reply = (await ok(ann, 'message.send', { conversationId: conv, content: 'Helo, how can I help?', echoId: 'a1' }))['message'] as Json
  const note = (await ok(ann, 'message.send', { conversationId: conv, content: 'VIP, be nice', private: true, echoId: 'a2' }))['message'] as Json
  const updated = (c: Client, id: string, pred: (m: Json) => boolean = () => true) =>
    c.waitFor((f) => f['type'] === 'message.updated' && f['data']?.message?.id === id && pred(f['data'].message as Json))

  await t.test('the author edits within the window: every node and the contact get message.updated', async (t) => {
    const edited = (await ok(ann, 'message.update', { conversationId: conv, messageId: reply['id'], content: 'Hello, how can I help?' }))['message'] as Json
    t.match(edited, { id: reply['id'], content: 'Hello, how can I help?', contentAttributes: { edited: true }, updatedAt: Number, echoId: 'a1', uid: reply['uid'] })
    for (const c of [bob, boss, widget]) t.match((await updated(c, reply['id'] as string))['data'].message, { content: 'Hello, how can I help?' })
    const repeat = await ok(ann, 'message.send', { conversationId: conv, content: 'Helo, how can I help?', echoId: 'a1' })
    t.match(repeat['message'], { id: reply['id'], content: 'Hello, how can I help?' }, 'a repeated echoId: the same message, as it now is, nothing new')
    t.equal(await redis.xlen(k.conversationLog(conv)), 4, 'the log: three messages and one update entry (the first entry untouched)')
    t.match(JSON.parse((await redis.xrange(k.conversationLog(conv), reply['id'] as string, reply['id'] as string))[0]?.[1][1] ?? '{}'), { content: 'Helo, how can I help?' })
  })

  await t.test('refusals: not the author, a contact, outside the window, bad input', async (t) => {
    t.match(await bob.request('message.update', { conversationId: conv, messageId: reply['id'], content: 'x' }), { ok: false, error: { code: 'forbidden', message: /author/ } })
    t.match(await boss.request('message.update', { conversationId: conv, messageId: reply['id'], content: 'x' }), { ok: false, error: { code: 'forbidden' } }, 'administrators delete, never edit others')
    t.match(await ann.request('message.update', { conversationId: conv, messageId: hello['id'], content: 'x' }), { ok: false, error: { code: 'forbidden' } }, "a contact's message")
    t.match(await widget.request('message.update', { conversationId: conv, messageId: hello['id'], content: 'x' }), { ok: false, error: { code: 'forbidden' } })
    t.match(await widget.request('message.delete', { conversationId: conv, messageId: hello['id'] }), { ok: false, error: { code: 'forbidden' } })
    t.match(await ann.request('message.update', { conversationId: conv, messageId: reply['id'], content: '   ' }), { ok: false, error: { code: 'bad_request' } })
    t.match(await ann.request('message.update', { conversationId: conv, messageId: 'nope', content: 'x' }), { ok: false, error: { code: 'bad_request', message: /messageId/ } })
    t.match(await ann.request('message.update', { conversationId: conv, messageId: '1-0', content: 'x' }), { ok: false, error: { code: 'not_found', message: 'no such message' } })
    t.match(await ann.request('message.update', { conversationId: conv, messageId: reply['id'], content: 'x'.repeat(150_001) }), { ok: false, error: { code: 'too_large' } })
    const later = (await ok(ann, 'message.send', { conversationId: conv, content: 'typo', echoId: 'a3' }))['message'] as Json
    // outside the window: a node whose window is 1 ms
    const strict = await startEngine(t, { redisUrl: server.url, env: { ...env, MESSAGE_EDIT_WINDOW_MS: '1' } })
    const annStrict = await open(agentUrl(strict, tenant.agents[0]?.token ?? ''))
    await new Promise((r) => setTimeout(r, 5))
    t.match(await annStrict.request('message.update', { conversationId: conv, messageId: later['id'], content: 'fixed' }), { ok: false, error: { code: 'invalid_state', message: /window/ } })
  })

  await t.test('delete: by its author, or an administrator for any message; contacts never see notes', async (t) => {
    const del = (await ok(boss, 'message.delete', { conversationId: conv, messageId: hello['id'] }))['message'] as Json
    t.match(del, { id: hello['id'], content: '', contentAttributes: { deleted: true }, type: 'incoming', sourceId: null })
    for (const c of [ann, bob, widget]) t.match((await updated(c, hello['id'] as string))['data'].message, { content: '', contentAttributes: { deleted: true } })
    t.match(await ok(boss, 'message.delete', { conversationId: conv, messageId: hello['id'] }), { message: { id: hello['id'], content: '' } }, 'deleting again changes nothing')
    t.match(await ann.request('message.update', { conversationId: conv, messageId: hello['id'], content: 'x' }), { ok: false, error: { code: 'forbidden' } })
    await ok(ann, 'message.delete', { conversationId: conv, messageId: note['id'] })
    await updated(bob, note['id'] as string)
    const marker = (await ok(ann, 'message.send', { conversationId: conv, content: 'marker' }))['message'] as Json
    await widget.waitFor((f) => f['type'] === 'message.created' && f['data']?.message?.id === marker['id'])
    t.notOk(widget.frames.some((f) => JSON.stringify(f).includes(note['id'] as string)), 'the note\'s update never reaches the contact')
  })

  const current = async (c: Client) => ((await ok(c, 'history', { conversationId: conv, limit: 200 }))['messages'] as Json[])
  await t.test('history and resume return the current version under the original id', async (t) => {
    const h = await current(ann)
    t.match(h.find((m) => m['id'] === hello['id']), { content: '', contentAttributes: { deleted: true } })
    t.match(h.find((m) => m['id'] === reply['id']), { content: 'Hello, how can I help?' })
    t.match(h.find((m) => m['id'] === note['id']), { content: '', private: true })
    t.equal(new Set(h.map((m) => m['id'])).size, h.length, 'no message twice, no update entry as a message')
    const wh = await current(widget)
    t.notOk(wh.some((m) => m['id'] === note['id']))
    // a client that saw everything up to the reply missed the edit and the delete: resume hands them over
    const r = await ok(widget, 'resume', { conversationId: conv, after: note['id'] })
    const ids = (r['messages'] as Json[]).map((m) => m['id'])
    t.ok(ids.includes(reply['id']) && ids.includes(hello['id']), 'changes of earlier messages come with resume')
    t.notOk(ids.includes(note['id']), 'not the note, to the contact')
    t.match((r['messages'] as Json[]).find((m) => m['id'] === hello['id']), { content: '' })
  })

  await t.test('the archive holds the current version; eviction waits for it; rehydrated history keeps it', async (t) => {
    await eventually(async () => {
      const rows = await sql<{ content: string; deleted: boolean | null }[]>`
        select content, (content_attributes->>'deleted')::boolean as deleted from messages where conversation_id = ${conv} and stream_id = ${hello['id'] as string}`
      return rows[0]?.content === '' && rows[0].deleted === true ? true : undefined
    }, 10_000)
    const [r] = await sql<{ content: string }[]>`select content from messages where conversation_id = ${conv} and stream_id = ${reply['id'] as string}`
    t.equal(r?.content, 'Hello, how can I help?')
    // ten more: after eviction the rehydrated log holds only the newest HOT_TAIL, the early ones stay in PostgreSQL
    for (let i = 0; i < 10; i++) await ok(ann, 'message.send', { conversationId: conv, content: `filler ${i}` })
    await eventually(async () => ((await sql`select 1 from messages where conversation_id = ${conv} and content = 'filler 9'`).length > 0 ? true : undefined), 10_000)
    const before = await current(ann)
    await ok(ann, 'conversation.status', { conversationId: conv, status: 'resolved' })
    await eventually(async () => ((await redis.exists(k.conversation(conv))) === 0 ? true : undefined), 15_000)
    t.equal(await redis.exists(k.conversationEdits(conv)), 0, 'the edits hash left with the conversation')
    const after = await current(bob)
    t.same(after.slice(0, before.length).map((m) => [m['id'], m['content']]), before.map((m) => [m['id'], m['content']]), 'same ids, current contents, from PostgreSQL')
    // edit and delete a message that only the archive holds (rehydrated log keeps it, edits hash empty)
    await eventually(async () => ((await redis.exists(k.conversation(conv))) === 0 ? true : undefined), 15_000)
    const again = (await ok(ann, 'message.delete', { conversationId: conv, messageId: reply['id'] }))['message'] as Json
    t.match(again, { id: reply['id'], content: '', contentAttributes: { deleted: true } })
    t.match((await updated(widget, reply['id'] as string, (m) => m['content'] === '')), {}, 'contact told, after rehydration')
    t.match((await current(boss)).find((m) => m['id'] === reply['id']), { content: '', contentAttributes: { deleted: true } }, 'history over the archived part shows it deleted at once')
    t.notOk((await redis.xrange(k.conversationLog(conv), reply['id'] as string, reply['id'] as string)).length, 'the message itself was not in the hot log: the archived path')
  })
})
