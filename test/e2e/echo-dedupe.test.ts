// A repeated echoId returns the first message. Redis keeps only the first message's id for it and
// re-reads the message from the conversation log; once the hot tail has trimmed it away, the engine
// answers from the archive, or `unavailable` (retry later) while the archive does not hold it.
import t from 'tap'
import { Redis } from 'ioredis'
import { DEFAULT_PARTITIONS, keysFor, partitionOf } from '../../lua/keys.js'
import { createTenant } from '../helpers/admin.js'
import { startEngine, type EngineProc } from '../helpers/engine.js'
import { startTestPostgres, startTestRedis } from '../helpers/stack.js'
import { startArchiver } from '../archiver/proc.js'
import { agentAndWidget } from './fixture.js'

const HOT_TAIL = '10'
const LATER = 250

/** A widget's first message with echoId `w-1`, then enough agent replies to trim it from the hot tail. */
async function trimmedFirstMessage(t: { teardown(fn: () => unknown): void }, engine: EngineProc) {
  const tenant = await createTenant(engine.http, { inbox: { autoAssign: false } })
  const { agent, widget } = await agentAndWidget(t, engine, tenant)
  const convId = (await widget.request('conversation.open'))['data'].conversation.id as string
  const first = (await widget.request('message.send', { conversationId: convId, content: 'my first question', echoId: 'w-1' }))['data'].message
  const whileHot = (await widget.request('message.send', { conversationId: convId, content: 'retry while hot', echoId: 'w-1' }))['data'].message
  // the same for the API channel's sourceId
  const ingest = () => fetch(`${engine.http}/api/v1/inboxes/${tenant.inbox['id'] as string}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tenant.inbox['apiToken'] as string}`, 'content-type': 'application/json' },
    body: JSON.stringify({ sourceId: 'api-1', contact: { identifier: 'cust-1' }, content: 'from the API' }),
  }).then(async (res) => ({ status: res.status, body: (await res.json()) as Record<string, any> })) // eslint-disable-line @typescript-eslint/no-explicit-any
  const apiFirst = await ingest()
  const apiConv = apiFirst.body['conversation']['id'] as string
  const apiWhileHot = await ingest()
  for (let i = 0; i < LATER; i++) {
    await agent.request('message.send', { conversationId: convId, content: `answer ${i}` })
    await agent.request('message.send', { conversationId: apiConv, content: `api answer ${i}` })
  }
  return { widget, convId, first, whileHot, accountId: tenant.account['id'] as string, ingest, apiFirst, apiWhileHot }
}

t.test('without the archive: unavailable with retryAfterMs, nothing written', async (t) => {
  const redis = await startTestRedis(t)
  const engine = await startEngine(t, { redisUrl: redis.url, env: { HOT_TAIL, OPS_PER_SECOND: '100000' } })
  const { widget, convId, first, whileHot, ingest, apiFirst, apiWhileHot } = await trimmedFirstMessage(t, engine)
  t.same(whileHot, first, 'while in the hot tail: the first message, re-read from the log')
  t.same(apiWhileHot, apiFirst, 'a repeated sourceId while hot: the same answer, re-read from the log')
  t.match(await ingest(), { status: 503, body: { error: { code: 'unavailable', retryAfterMs: 1000 } } }, 'a repeated sourceId after the trim: retry later')
  const r = await widget.request('message.send', { conversationId: convId, content: 'retry after the trim', echoId: 'w-1' })
  t.match(r, { ok: false, error: { code: 'unavailable', retryAfterMs: 1000 } })
  await widget.request('ping')
  t.notOk(widget.frames.some((f) => f['type'] === 'message.created' && f['data'].message.content === 'retry after the trim'), 'no second message')
})

t.test('with the archive: the first message, from PostgreSQL', async (t) => {
  const redis = await startTestRedis(t)
  const pg = await startTestPostgres(t)
  const archiver = await startArchiver(t, redis.url, pg.url)
  const engine = await startEngine(t, { redisUrl: redis.url, env: { HOT_TAIL, OPS_PER_SECOND: '100000', DATABASE_URL: pg.url } })
  const { widget, convId, first, whileHot, accountId, ingest, apiFirst } = await trimmedFirstMessage(t, engine)
  t.same(whileHot, first, 'while in the hot tail: the first message, re-read from the log')
  const client = new Redis(redis.url)
  t.teardown(() => client.quit())
  const log = keysFor(partitionOf(accountId, DEFAULT_PARTITIONS)).conversationLog(convId)
  t.same(await client.xrange(log, first.id, first.id), [], 'the first message has left the hot tail')
  await archiver.waitForMessages(2 * LATER + 2)
  const r = await widget.request('message.send', { conversationId: convId, content: 'retry after the trim', echoId: 'w-1' })
  t.equal(r['ok'], true)
  t.match(r['data'].message, { id: first.id, content: 'my first question', echoId: 'w-1', conversationId: convId, type: 'incoming', sender: first.sender, createdAt: first.createdAt })
  await widget.request('ping')
  t.notOk(widget.frames.some((f) => f['type'] === 'message.created' && f['data'].message.content === 'retry after the trim'), 'no second message')
  const again = await ingest()
  t.equal(again.status, 200)
  t.same(again.body['message'], apiFirst.body['message'], 'a repeated sourceId after the trim: the first message, from PostgreSQL, field for field')
  t.equal(again.body['conversation']['id'], apiFirst.body['conversation']['id'])
})
