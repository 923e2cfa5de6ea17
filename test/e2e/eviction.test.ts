// Redis memory stays bounded: a resolved conversation idle past RETENTION_MS is evicted once the
// archive holds it, and comes back from PostgreSQL, intact, when anything touches it. Real engine,
// archiver, Redis and PostgreSQL processes.
import { createHmac } from 'node:crypto'
import t from 'tap'
import { Redis } from 'ioredis'
import postgres from 'postgres'
import { parseEvent } from '../../lua/codec.js'
import { DEFAULT_PARTITIONS, keysFor, partitionOf } from '../../lua/keys.js'
import { createTenant, type Json } from '../helpers/admin.js'
import { connect, connectRaw, fullHistory, type Client } from '../helpers/client.js'
import { startEngine } from '../helpers/engine.js'
import { startTestPostgres, startTestRedis } from '../helpers/stack.js'
import { startArchiver } from '../archiver/proc.js'
import { eventually } from './fixture.js'

const RETENTION_MS = 1000

t.test('resolved, archived conversations leave Redis and come back intact when touched', async (t) => {
  const server = await startTestRedis(t)
  const pg = await startTestPostgres(t)
  const archiver = await startArchiver(t, server.url, pg.url)
  const engine = await startEngine(t, {
    redisUrl: server.url,
    env: { DATABASE_URL: pg.url, HOT_TAIL: '10', RETENTION_MS: String(RETENTION_MS), SWEEP_MS: '100', CONN_RATE_POINTS: '10000' },
  })
  const tenant = await createTenant(engine.http, { inbox: { autoAssign: false } })
  const redis = new Redis(server.url)
  t.teardown(() => redis.quit())
  const k = keysFor(partitionOf(tenant.account['id'] as string, DEFAULT_PARTITIONS))
  const clients: Client[] = []
  t.teardown(() => Promise.all(clients.map((c) => c.close())))
  const site = encodeURIComponent(tenant.inbox['websiteToken'] as string)
  const widgetUrl = (session?: string) => `${engine.ws}/ws/widget?website_token=${site}${session === undefined ? '' : `&session=${encodeURIComponent(session)}`}`
  const open = async (url: string) => {
    const c = await connect(url)
    clients.push(c)
    return c
  }
  const ok = async (c: Client, op: string, params: Json = {}): Promise<Json> => {
    const r = await c.request(op, params)
    if (r['ok'] !== true) throw new Error(`${op} failed: ${JSON.stringify(r)}`)
    return r['data'] as Json
  }
  /** every message of a conversation through `history`, paging back into PostgreSQL */
  const allHistory = async (c: Client, conversationId: string): Promise<Json[]> =>
    (await fullHistory(c, conversationId)).map((m) => ({ id: m['id'], type: m['type'], content: m['content'], private: m['private'], sender: m['sender'], createdAt: m['createdAt'], uid: m['uid'] }))
  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`${engine.http}/metrics`)).text()
    return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? 0)
  }
  const evicted = (id: string) => eventually(async () => ((await redis.exists(k.conversation(id))) === 0 ? true : undefined), 10_000)
  const keysOf = async (id: string) => {
    const found: string[] = []
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${id}*`, 'COUNT', 1000)
      cursor = next
      found.push(...keys)
    } while (cursor !== '0')
    return found
  }

  const agent = await open(`${engine.ws}/ws/agent?token=${encodeURIComponent(tenant.agents[0]?.token ?? '')}`)
  const widget = await open(widgetUrl())
  const session = widget.hello['session'] as string

  // A: 14 messages and a private note (more than HOT_TAIL = 10), attributes, resolved
  const a = (await ok(widget, 'conversation.open'))['conversation']['id'] as string
  for (let i = 0; i < 14; i++) await ok(i % 2 === 0 ? widget : agent, 'message.send', { conversationId: a, content: `m${i}`, echoId: `e${i}` })
  await ok(agent, 'message.send', { conversationId: a, content: 'note to self', private: true })
  await ok(agent, 'conversation.update', { conversationId: a, priority: 'high', customAttributes: { plan: 'pro', seats: 3 }, region: 'EU' })
  await ok(agent, 'conversation.status', { conversationId: a, status: 'resolved' })
  // C: open and idle: never evicted, however old
  const other = await open(widgetUrl())
  const c = (await ok(other, 'conversation.open'))['conversation']['id'] as string
  await ok(other, 'message.send', { conversationId: c, content: 'anyone?' })

  const before = (await ok(agent, 'conversation.get', { conversationId: a }))['conversation'] as Json
  const agentHistory = await allHistory(agent, a)
  const contactHistory = await allHistory(widget, a)
  t.equal(await metric('parley_conversations_evicted_total'), 0, 'the snapshot was taken before any eviction')
  t.equal(agentHistory.filter((m) => m['type'] !== 'activity').length, 15)
  t.equal(contactHistory.length, agentHistory.length - 1, 'the contact does not see the note')

  await t.test('evicted once archived: every key of it is gone', async (t) => {
    await evicted(a)
    t.same(await keysOf(a), [], `no key names ${a}`)
    t.equal(await redis.zscore(k.inboxStatusList(tenant.inbox['id'] as string, 'resolved'), a), null, 'off the resolved list')
    const events = ((await redis.xrange(k.events, '-', '+')) as [string, string[]][]).map(([id, f]) => parseEvent(id, f))
    t.match(events.filter((e) => e?.type === 'conversation.evicted').map((e) => e?.data), [{ conversationId: a, msgCount: 16 }], '14 messages, the note, the resolve activity')
    t.match(await redis.hgetall(k.conversation(c)), { status: 'open' }, 'the open conversation stays, idle as it is')
  })

  await t.test('conversation.get and history bring it back intact', async (t) => {
    t.same((await ok(agent, 'conversation.get', { conversationId: a }))['conversation'], before, 'the same fields')
    t.equal(await redis.exists(k.conversation(a)), 1, 'live in Redis again')
    t.equal(await redis.zscore(k.inboxStatusList(tenant.inbox['id'] as string, 'resolved'), a), String(before['lastActivityAt']), 'on its status list again')
    t.same(await allHistory(agent, a), agentHistory, 'the same messages, ids and order, paging into PostgreSQL')
    t.ok(await metric('parley_conversations_rehydrated_total') >= 1)
  })

  await t.test('the contact, back with its session, reads and rates it after another eviction', async (t) => {
    await widget.close()
    await evicted(a)
    const back = await open(widgetUrl(session))
    t.equal(back.hello['contact']['id'], widget.hello['contact']['id'], 'the same contact')
    t.equal(back.hello['conversation'], null, 'a resolved conversation is not the current one')
    const resumed = await ok(back, 'resume', { conversationId: a, after: contactHistory.at(-3)?.['id'] })
    t.same((resumed['messages'] as Json[]).map((m) => m['id']), contactHistory.slice(-2).map((m) => m['id']), 'resume from a message id of before the eviction')
    t.equal(resumed['complete'], true)
    await evicted(a)
    t.same(await allHistory(back, a), contactHistory, 'the contact reads it as before')
    await evicted(a)
    const rated = await ok(back, 'conversation.rate', { conversationId: a, score: 5, comment: 'thanks' })
    t.match(rated['conversation'], { id: a, status: 'resolved', rating: { score: 5, comment: 'thanks' } }, 'rating an evicted conversation')
  })

  await t.test('message.send by id brings it back and appends after the archived ids', async (t) => {
    await evicted(a) // after the rating is archived
    const sent = (await ok(agent, 'message.send', { conversationId: a, content: 'one more thing' }))['message'] as Json
    const last = agentHistory.at(-1)?.['id'] as string
    t.ok(BigInt((sent['id'] as string).split('-')[0] ?? '0') >= BigInt(last.split('-')[0] ?? '0') && sent['id'] !== last, `${sent['id']} after ${last}`)
    const now = (await ok(agent, 'conversation.get', { conversationId: a }))['conversation'] as Json
    t.match(now, { status: 'resolved', rating: { score: 5, comment: 'thanks' }, priority: 'high', customAttributes: { plan: 'pro', seats: 3 } })
    const history = await allHistory(agent, a)
    t.same(history.slice(0, agentHistory.length), agentHistory)
    t.match(history.at(-1), { id: sent['id'], content: 'one more thing' })

    // the contact writes again into the evicted conversation: it comes back, intact, and reopens
    await evicted(a)
    const w = await open(widgetUrl(session))
    const fromContact = (await ok(w, 'message.send', { conversationId: a, content: 'it broke again' }))['message'] as Json
    t.match((await ok(agent, 'conversation.get', { conversationId: a }))['conversation'], {
      status: 'open', rating: { score: 5 }, priority: 'high', customAttributes: { plan: 'pro', seats: 3 }, region: 'EU',
    }, 'reopened by the contact, every field kept')
    const after = await allHistory(agent, a)
    t.same(after.slice(0, history.length), history, 'every earlier message, same ids')
    t.match(after.slice(history.length).map((m) => m['content']), ['it broke again', 'Conversation was reopened'], 'then its message and the reopen activity')
    t.match(after.find((m) => m['id'] === fromContact['id']), { content: 'it broke again', sender: { type: 'contact' } })
    await ok(agent, 'conversation.status', { conversationId: a, status: 'resolved' })
    await w.close()
  })

  await t.test('API ingest: a repeated sourceId brings its conversation back; a new message opens a new one', async (t) => {
    const post = async (sourceId: string, content: string) => {
      const res = await fetch(`${engine.http}/api/v1/inboxes/${tenant.inbox['id'] as string}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tenant.inbox['apiToken'] as string}`, 'content-type': 'application/json' },
        body: JSON.stringify({ sourceId, contact: { identifier: 'cust-7' }, content }),
      })
      t.equal(res.status, 200)
      return (await res.json()) as Json
    }
    const first = await post('src-1', 'from the API')
    const d = first['conversation']['id'] as string
    await ok(agent, 'conversation.status', { conversationId: d, status: 'resolved' })
    await evicted(d)
    const again = await post('src-1', 'from the API')
    t.equal(again['message']['id'], first['message']['id'], 'the first message')
    t.match(again['conversation'], { id: d, status: 'resolved' }, 'its conversation, rehydrated')
    const next = await post('src-2', 'me again')
    t.not(next['conversation']['id'], d, 'the contact writing again gets a new conversation, as for any resolved one')
  })

  await t.test('contacts: idle ones leave Redis once archived and come back, same id, on any touch', async (t) => {
    const account = tenant.account['id'] as string
    const contactEvicted = (id: string) => eventually(async () => ((await redis.exists(k.contact(id))) === 0 ? true : undefined), 10_000)
    const hash = createHmac('sha256', tenant.inbox['hmacSecret'] as string).update('vip-1').digest('hex')
    const identified = `${widgetUrl()}&identifier=vip-1&identifier_hash=${hash}`
    const vip = await open(identified)
    const id = vip.hello['contact']['id'] as string
    await ok(vip, 'contact.update', { name: 'Vera', email: 'vera@example.com', customAttributes: { plan: 'gold' } })
    const conv = (await ok(vip, 'conversation.open'))['conversation']['id'] as string
    await ok(vip, 'message.send', { conversationId: conv, content: 'hi' })
    await new Promise((r) => setTimeout(r, RETENTION_MS * 2.5))
    t.equal(await redis.exists(k.contact(id)), 1, 'kept, however idle, while its conversation is open')
    t.ok(await metric('parley_eviction_skipped_total\\{reason="contact_active"\\}') >= 1, 'counted as active')

    await ok(agent, 'conversation.status', { conversationId: conv, status: 'resolved' })
    await contactEvicted(id)
    t.equal(await redis.hget(k.accountIdentifiers(account), 'vip-1'), id, 'its identifier mapping stays (a new identifier never waits on the archive)')
    t.equal(await redis.zscore(k.contactsTouched, id), null)
    const updated = (await ok(vip, 'contact.update', { phone: '+15551234567' }))['contact'] as Json
    const expected = { id, accountId: account, name: 'Vera', email: 'vera@example.com', phone: '+15551234567', identifier: 'vip-1', verified: true, customAttributes: { plan: 'gold' }, lastSeenAt: null }
    t.same(updated, expected, 'a connected widget updating an evicted contact: restored, then updated')
    await vip.close()

    await contactEvicted(id)
    const again = await open(identified)
    t.same(again.hello['contact'], expected, 'reconnecting by identifier: the same contact, intact')
    t.equal(await redis.hget(k.accountIdentifiers(account), 'vip-1'), id)
    await again.close()

    const anon = await open(widgetUrl())
    const anonId = anon.hello['contact']['id'] as string
    const anonSession = anon.hello['session'] as string
    await anon.close()
    await contactEvicted(anonId)
    const anonBack = await open(widgetUrl(anonSession))
    t.equal(anonBack.hello['contact']['id'], anonId, 'reconnecting with the session: the same anonymous contact')
    await anonBack.close()

    const apiContact = async () => {
      const res = await fetch(`${engine.http}/api/v1/inboxes/${tenant.inbox['id'] as string}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tenant.inbox['apiToken'] as string}`, 'content-type': 'application/json' },
        body: JSON.stringify({ sourceId: `src-${Math.random()}`, contact: { identifier: 'api-9' }, content: 'via API' }),
      })
      const body = (await res.json()) as Json
      await ok(agent, 'conversation.status', { conversationId: body['conversation']['id'], status: 'resolved' })
      return body['conversation']['contactId'] as string
    }
    const apiId = await apiContact()
    await contactEvicted(apiId)
    t.equal(await apiContact(), apiId, 'the API channel finds the evicted contact by identifier: no second contact')
    t.ok(await metric('parley_contacts_evicted_total') >= 4)
    t.ok(await metric('parley_contacts_rehydrated_total') >= 4)
    t.equal(await redis.exists(k.contact(other.hello['contact']['id'] as string)), 1, 'the contact with an open conversation stays')
  })

  await t.test('conversation.list pages resolved conversations across Redis and PostgreSQL', async (t) => {
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      const w = await open(widgetUrl())
      const id = (await ok(w, 'conversation.open'))['conversation']['id'] as string
      await ok(w, 'message.send', { conversationId: id, content: `list ${i}` })
      if (i === 2) await ok(agent, 'conversation.assign', { conversationId: id, assigneeId: tenant.agents[0]?.agent['id'] })
      await ok(agent, 'conversation.status', { conversationId: id, status: 'resolved' })
      ids.push(id)
      await w.close()
    }
    for (const id of ids) await evicted(id)
    // two of them live in Redis again (touched), three only in PostgreSQL
    await ok(agent, 'conversation.get', { conversationId: ids[1] })
    await ok(agent, 'conversation.get', { conversationId: ids[3] })
    const list = async (params: Json) => {
      const rows: Json[] = []
      let cursor: string | null = null
      for (let i = 0; i < 50; i++) {
        const d = await ok(agent, 'conversation.list', { status: 'resolved', limit: 2, ...params, ...(cursor === null ? {} : { cursor }) })
        rows.push(...(d['conversations'] as Json[]))
        cursor = d['cursor'] as string | null
        if (cursor === null) break
      }
      return rows
    }
    const all = await list({})
    const listed = all.map((c) => c['id'] as string)
    t.same(listed.filter((id) => ids.includes(id)), [...ids].reverse(), 'newest activity first, evicted or not')
    t.equal(new Set(listed).size, listed.length, 'no conversation twice')
    t.ok(listed.includes(a), 'the older evicted conversation too')
    for (const c of all) t.equal(c['status'], 'resolved')
    t.same(all.find((c) => c['id'] === ids[0]), (await ok(agent, 'conversation.get', { conversationId: ids[0] }))['conversation'], 'an archived row reads as conversation.get shows it')
    const mine = (await list({ assignee: 'me' })).map((c) => c['id'])
    t.same(mine.filter((id) => ids.includes(id as string)), [ids[2]], 'assignee filter applies to archived rows')
    const unassigned = (await list({ assignee: 'unassigned', inboxId: tenant.inbox['id'] })).map((c) => c['id'])
    t.same(unassigned.filter((id) => ids.includes(id as string)), [ids[4], ids[3], ids[1], ids[0]])
    // reopened from the archive: Redis holds it as open, whatever the archive says meanwhile
    await evicted(ids[4] as string)
    await ok(agent, 'conversation.status', { conversationId: ids[4], status: 'open' })
    t.notOk((await list({})).some((c) => c['id'] === ids[4]), 'a reopened conversation is not listed as resolved')
    t.ok((await list({ status: 'open' })).some((c) => c['id'] === ids[4]), 'it is listed as open')
    await ok(agent, 'conversation.status', { conversationId: ids[4], status: 'resolved' })
  })

  await t.test('an unarchived conversation is never evicted', async (t) => {
    await archiver.stop()
    const w = await open(widgetUrl())
    const b = (await ok(w, 'conversation.open'))['conversation']['id'] as string
    await ok(w, 'message.send', { conversationId: b, content: 'hello?' })
    await ok(agent, 'conversation.status', { conversationId: b, status: 'resolved' })
    await new Promise((r) => setTimeout(r, RETENTION_MS * 2.5))
    t.match(await redis.hgetall(k.conversation(b)), { status: 'resolved', msgCount: '2' }, 'still in Redis while the archive lacks it')
    t.ok(await metric('parley_eviction_skipped_total\\{reason="unarchived"\\}') >= 1, 'kept as unarchived')
    await archiver.restart()
    await evicted(b)
    t.pass('evicted once the archiver caught up')
    t.match(await redis.hgetall(k.conversation(c)), { status: 'open' }, 'the open conversation is still there')
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} })
    t.teardown(() => sql.end({ timeout: 2 }))
    t.same(await sql`select count(*)::int as n from archiver_dead_letters`, [{ n: 0 }], 'the archiver took conversation.evicted in its stride')
    t.match(await sql`select status, rating_score from conversations where id = ${a}`, [{ status: 'resolved', rating_score: 5 }], 'the archived row stays')
    const text = await (await fetch(`${engine.http}/metrics`)).text()
    t.match(text, new RegExp(`parley_redis_conversations\\{partition="${k.partition}",status="open"\\} 2`), "the census gauge: C and the API contact's new one")
  })

  await t.test('PostgreSQL down: the list answers what Redis holds, flagged; touching an evicted one is unavailable', async (t) => {
    await evicted(a)
    const visitor = await open(widgetUrl())
    const visitorId = visitor.hello['contact']['id'] as string
    await visitor.close()
    await eventually(async () => ((await redis.exists(k.contact(visitorId))) === 0 ? true : undefined), 10_000)
    await pg.stop()
    const refused = await connectRaw(widgetUrl(visitor.hello['session'] as string))
    t.match(refused, { refused: true, status: 503, body: { error: { code: 'unavailable' } } }, 'an evicted contact cannot be restored: refused, not replaced')
    const fresh = await open(widgetUrl())
    t.not(fresh.hello['contact']['id'], visitorId, 'a new visitor still connects')
    const d = await ok(agent, 'conversation.list', { status: 'resolved', limit: 100 })
    t.equal(d['archiveUnavailable'], true, 'flagged as partial')
    t.notOk((d['conversations'] as Json[]).some((c) => c['id'] === a), 'the evicted conversation is only in the archive')
    t.notOk('archiveUnavailable' in (await ok(agent, 'conversation.list', { status: 'open' })), 'other lists never need the archive')
    t.match(await agent.request('conversation.get', { conversationId: a }), { ok: false, error: { code: 'unavailable', retryAfterMs: 1000 } })
  })
})
