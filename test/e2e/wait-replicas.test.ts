// REDIS_WAIT_REPLICAS on one instance with a real replica (REPLICAOF): a send is acknowledged once
// the replica holds it; with the replica frozen (SIGSTOP) the send answers `unavailable` within
// REDIS_WAIT_TIMEOUT_MS and the message is kept on the master; once the replica runs again the
// same send (same echoId) answers with that same message: kept once, acknowledged once replicated.
import t from 'tap'
import { Redis } from 'ioredis'
import { createTenant } from '../helpers/admin.js'
import { connect } from '../helpers/client.js'
import { startEngine } from '../helpers/engine.js'
import { startTestRedis } from '../helpers/stack.js'

t.test('a send is acknowledged only once a replica holds it', async (t) => {
  const primary = await startTestRedis(t)
  const replica = await startTestRedis(t)
  const admin = new Redis(replica.url, { maxRetriesPerRequest: 1 })
  t.teardown(() => admin.disconnect())
  await admin.call('REPLICAOF', '127.0.0.1', String(primary.port))
  for (let i = 0; i < 100 && !/master_link_status:up/.test(await admin.info('replication')); i++) await new Promise((r) => setTimeout(r, 50))

  const engine = await startEngine(t, { redisUrl: primary.url, env: { REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '300' } })
  const tenant = await createTenant(engine.http)
  const widget = await connect(`${engine.ws}/ws/widget?website_token=${encodeURIComponent(tenant.inbox['websiteToken'] as string)}`)
  t.teardown(() => widget.close())
  const convId = (await widget.request('conversation.open'))['data'].conversation.id as string

  const first = await widget.request('message.send', { conversationId: convId, content: 'replicated', echoId: 'r1' })
  t.equal(first['ok'], true, 'acknowledged with the replica running')

  process.kill(replica.pid, 'SIGSTOP')
  t.teardown(() => { try { process.kill(replica.pid, 'SIGCONT') } catch { /* already gone */ } })
  const started = Date.now()
  const frozen = await widget.request('message.send', { conversationId: convId, content: 'waits for the replica', echoId: 'r2' })
  t.equal(frozen['error']?.code, 'unavailable', 'the replica frozen: unavailable')
  t.match(frozen['error']?.message, /replica/, 'saying a replica did not confirm it')
  t.ok(Number(frozen['error']?.retryAfterMs) > 0, 'with retryAfterMs')
  t.ok(Date.now() - started < 3000, `answered after the WAIT timeout, not hung (${Date.now() - started} ms)`)

  process.kill(replica.pid, 'SIGCONT')
  const again = await widget.request('message.send', { conversationId: convId, content: 'waits for the replica', echoId: 'r2' })
  t.equal(again['ok'], true, 'the same send, the replica back: acknowledged')
  const hist = await widget.request('history', { conversationId: convId, limit: 50 })
  const contents = (hist['data'].messages as { content: string; type: string }[]).filter((m) => m.type !== 'activity').map((m) => m.content)
  t.same(contents, ['replicated', 'waits for the replica'], 'the message was kept once: the retry deduped on its echoId')
  t.equal(again['data'].message.id, (hist['data'].messages as { id: string }[]).at(-1)?.id, 'and answered with the kept message')
})
