// kill -9 the dispatcher mid-batch and start it again: every event is still delivered, and an
// event delivered twice carries the same delivery id. A dead endpoint never holds the partition
// stream: what it is owed is in PostgreSQL and the `webhooks` group has acknowledged everything.
import { Redis } from 'ioredis'
import t from 'tap'
import { DEFAULT_PARTITIONS, keysFor, partitionOf } from '../../lua/keys.js'
import { groups, pendingSummary } from '../../archiver/streams.js'
import { freePort } from '../archiver/proc.js'
import type { Json } from '../helpers/admin.js'
import { sendMessages, startReceiver, until, webhookStack } from './fixture.js'

t.test('kill -9 mid-batch, restart: nothing lost, repeats keep their id', async (t) => {
  const s = await webhookStack(t, {
    dispatcherEnv: { WEBHOOK_TIMEOUT_MS: '1000', WEBHOOK_LEASE_MS: '2000', WEBHOOK_RETRY_BASE_MS: '50', WEBHOOKS_CONSUMER: 'dispatcher-1' },
  })
  const rec = await startReceiver(t)
  rec.answer(() => ({ status: 200, delayMs: 20 }))
  await s.createWebhook({ url: rec.url, events: ['message_created'] })
  const visitors = await Promise.all([s.visitor(), s.visitor(), s.visitor()])
  const sent: string[] = []
  let killed = false
  const sending = Promise.all(visitors.map(async (v, i) => {
    for (let k = 0; k < 30; k++) {
      sent.push(...(await sendMessages(v.client, v.conversationId, 1, `v${i}-${k}`)).map((id) => `${v.conversationId}/${id}`))
      if (k === 10 && i === 0) {
        await until(() => (rec.received.length >= 10 ? true : undefined), 20_000, 'the first deliveries')
        await s.dispatcher.kill9()
        killed = true
      }
    }
  }))
  await sending
  t.ok(killed, 'the dispatcher was killed with SIGKILL while deliveries were under way')
  const before = rec.received.length
  t.ok(before < sent.length, `not everything was delivered before the kill (${before} of ${sent.length})`)
  await s.dispatcher.start()
  // message ids are ordered within a conversation (its log's stream ids): key by both
  const ids = (r: { body: Json }) => `${r.body['data'].message.conversationId}/${r.body['data'].message.id}` as string
  await until(() => (new Set(rec.accepted().map(ids)).size >= sent.length ? true : undefined), 30_000, 'every event delivered')
  const perMessage = new Map<string, Set<string>>()
  for (const r of rec.received) {
    const set = perMessage.get(ids(r)) ?? new Set<string>()
    set.add(r.deliveryId)
    perMessage.set(ids(r), set)
  }
  t.same([...perMessage.keys()].sort(), [...sent].sort(), 'every message delivered, nothing else')
  t.ok([...perMessage.values()].every((set) => set.size === 1), 'a message delivered more than once always carries one delivery id')
  t.equal(new Set(rec.received.map((r) => r.deliveryId)).size, sent.length, 'one delivery id per event')
  t.comment(`${rec.received.length - sent.length} repeated requests after the kill`)
})

t.test('a dead endpoint owes in PostgreSQL, never in the stream', async (t) => {
  const s = await webhookStack(t, { dispatcherEnv: { WEBHOOK_RETRY_BASE_MS: '1000' } })
  const closed = await freePort() // nothing listens: connection refused on every attempt
  const hook = await s.createWebhook({ url: `http://127.0.0.1:${closed}/hook`, events: ['message_created'] })
  const { client, conversationId } = await s.visitor()
  await sendMessages(client, conversationId, 10, 'owed')
  const redis = new Redis(s.redisUrl)
  t.teardown(() => redis.quit())
  const stream = keysFor(partitionOf(s.accountId, DEFAULT_PARTITIONS)).events
  await until(async () => {
    const g = (await groups(redis, stream)).find((x) => x.name === 'webhooks')
    const last = (await redis.xrevrange(stream, '+', '-', 'COUNT', 1))[0]?.[0]
    return g !== undefined && g.pending === 0 && g.lastDeliveredId === last ? true : undefined
  }, 10_000, 'the webhooks group to acknowledge everything')
  t.equal((await pendingSummary(redis, stream, 'webhooks')).count, 0, 'nothing pending in the webhooks group')
  const owed = await until(async () => {
    const list = (await s.api('GET', `/api/v1/accounts/${s.accountId}/webhooks/${hook.id}/deliveries`)).body['deliveries'] as Json[]
    return list.length === 10 && list.some((d) => d['status'] === 'failed') ? list : undefined
  }, 10_000, 'the owed deliveries in PostgreSQL')
  t.ok(owed.every((d) => d['status'] === 'pending' || d['status'] === 'failed'), 'all owed, none lost')
  t.match(owed.find((d) => d['status'] === 'failed'), { lastError: /ECONNREFUSED/, nextAttemptAt: Number })
  t.match(await s.dispatcher.metrics(), new RegExp(`parley_webhooks_queue_depth\\{webhook="${hook.id}"\\} 10`), 'queue depth per endpoint')
  t.match(await s.dispatcher.metrics(), new RegExp(`parley_webhooks_oldest_owed_seconds\\{webhook="${hook.id}"\\} \\d`), 'oldest owed per endpoint')
})
