// Retries with real receivers on loopback: a receiver that fails five times (500, reset, timeout)
// gets the event on the sixth attempt with the same delivery id and body; a hanging endpoint
// holds only its own slots; order per conversation holds across retries; failures past
// WEBHOOK_RETRY_MAX_AGE_MS dead-letter, and a replay delivers; 410 deactivates the webhook.
import t from 'tap'
import type { Json } from '../helpers/admin.js'
import { sendMessages, startReceiver, until, webhookStack, type Answer } from './fixture.js'

const MAX_AGE_MS = 8000

t.test('retries, isolation, order, dead letters', async (t) => {
  const s = await webhookStack(t, {
    dispatcherEnv: {
      WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_RETRY_CAP_MS: '400', WEBHOOK_TIMEOUT_MS: '4000', WEBHOOK_LEASE_MS: '10000',
      WEBHOOK_RETRY_MAX_AGE_MS: String(MAX_AGE_MS), WEBHOOK_CONCURRENCY: '2',
    },
  })
  const base = `/api/v1/accounts/${s.accountId}/webhooks`
  const messageHook = (url: string) => s.createWebhook({ url, events: ['message_created'] })
  const content = (r: { body: Json }) => r.body['data']?.message?.content as string
  const off = (id: string) => s.api('PATCH', `${base}/${id}`, { active: false })

  t.test('five failures (500, reset, timeout), then success: the same delivery id every time', async (t) => {
    const flaky = await startReceiver(t)
    const script: Answer[] = [500, 'reset', 'hang', 500, 'reset', 200]
    flaky.answer((_r, n) => script[n - 1] ?? 200)
    const hook = await messageHook(flaky.url)
    const { client, conversationId } = await s.visitor()
    await sendMessages(client, conversationId, 1, 'flaky')
    await until(() => (flaky.accepted().length > 0 ? true : undefined), 30_000, 'the sixth attempt')
    t.equal(flaky.received.length, 6)
    t.same(flaky.received.map((r) => r.answered), ['500', 'reset', 'hang', '500', 'reset', '200'])
    t.equal(new Set(flaky.received.map((r) => r.deliveryId)).size, 1, 'one delivery id on every attempt')
    t.equal(new Set(flaky.received.map((r) => r.raw)).size, 1, 'the same body on every attempt')
    const [d] = (await s.api('GET', `${base}/${hook.id}/deliveries`)).body['deliveries'] as Json[]
    t.match(d, { id: flaky.received[0]?.deliveryId, status: 'delivered', attempts: 6, lastStatusCode: 200 })
    await off(hook.id)
  })

  t.test('a hanging endpoint does not delay another endpoint', async (t) => {
    const hang = await startReceiver(t)
    hang.answer(() => 'hang')
    const fine = await startReceiver(t)
    const h = await messageHook(hang.url)
    const f = await messageHook(fine.url)
    const sent: string[] = []
    for (let i = 0; i < 4; i++) {
      const { client, conversationId } = await s.visitor()
      sent.push(...(await sendMessages(client, conversationId, 5, `c${i}`)))
    }
    await until(() => (fine.accepted().length >= sent.length ? true : undefined), 20_000, 'the healthy endpoint\'s deliveries')
    t.equal(fine.accepted().length, sent.length, 'every event reached the healthy endpoint')
    t.ok(hang.received.length <= 2, `the hanging endpoint holds at most its 2 slots (${hang.received.length})`)
    t.ok(hang.received.every((r) => r.answered === 'hang'), 'while none of its requests was answered')
    await off(h.id)
    await off(f.id)
  })

  t.test('order per conversation is kept across retries', async (t) => {
    const rec = await startReceiver(t)
    const failedOnce = new Set<string>()
    // every other delivery fails its first attempt
    let k = 0
    rec.answer((r) => {
      if (failedOnce.has(r.deliveryId)) return 200
      failedOnce.add(r.deliveryId)
      return k++ % 2 === 0 ? 500 : 200
    })
    const hook = await messageHook(rec.url)
    const a = await s.visitor()
    const b = await s.visitor()
    const sentA: string[] = []
    const sentB: string[] = []
    for (let i = 0; i < 8; i++) {
      sentA.push(...(await sendMessages(a.client, a.conversationId, 1, `a${i}`)))
      sentB.push(...(await sendMessages(b.client, b.conversationId, 1, `b${i}`)))
    }
    await until(() => (rec.accepted().length >= 16 ? true : undefined), 30_000, 'all 16 deliveries')
    t.ok(rec.received.length > 16, 'some attempts failed and were retried')
    for (const [conv, sent] of [[a.conversationId, sentA], [b.conversationId, sentB]] as const) {
      const mine = rec.received.filter((r) => r.body['data'].message.conversationId === conv)
      const accepted = mine.filter((r) => r.answered === '200').map((r) => r.body['data'].message.id)
      t.same(accepted, sent, 'accepted in the order sent')
      // stronger: nothing later is even attempted before everything earlier was accepted
      const attempted = mine.map((r) => sent.indexOf(r.body['data'].message.id))
      t.same(attempted, [...attempted].sort((x, y) => x - y), 'attempts never overtake an owed earlier event')
    }
    await off(hook.id)
  })

  t.test('past the retry age a delivery is dead; replay delivers it with the same id', async (t) => {
    const rec = await startReceiver(t)
    let healthy = false
    rec.answer(() => (healthy ? 200 : 500))
    const hook = await messageHook(rec.url)
    const { client, conversationId } = await s.visitor()
    await sendMessages(client, conversationId, 1, 'doomed')
    const dead = await until(async () => {
      const list = (await s.api('GET', `${base}/${hook.id}/deliveries?status=dead`)).body['deliveries'] as Json[]
      return list[0]
    }, MAX_AGE_MS + 15_000, 'the dead letter')
    t.match(dead, { status: 'dead', lastStatusCode: 500, lastError: 'HTTP 500', nextAttemptAt: null })
    t.ok((dead['attempts'] as number) > 3, `retried before giving up (${dead['attempts']} attempts)`)
    t.ok(rec.received.every((r) => r.deliveryId === dead['id']), 'every attempt carried its id')
    const metrics = await s.dispatcher.metrics()
    t.match(metrics, new RegExp(`parley_webhooks_dead_letters\\{webhook="${hook.id}"\\} 1`), 'dead letters per endpoint in metrics')
    t.match(metrics, /parley_webhooks_deliveries_total\{result="dead"\} [1-9]/)
    healthy = true
    const replayed = await s.api('POST', `${base}/${hook.id}/deliveries/${dead['id']}/replay`)
    t.match(replayed, { status: 200, body: { delivery: { id: dead['id'], status: 'pending' } } })
    const got = await until(() => rec.accepted()[0], 10_000, 'the replayed delivery')
    t.equal(got.deliveryId, dead['id'], 'the replay carries the same delivery id')
    t.equal(content(got), 'doomed-0')
    await until(async () => {
      const list = (await s.api('GET', `${base}/${hook.id}/deliveries`)).body['deliveries'] as Json[]
      return list[0]?.['status'] === 'delivered' ? true : undefined
    }, 10_000, 'delivered status')
    await off(hook.id)
  })

  t.test('410 Gone deactivates the webhook', async (t) => {
    const rec = await startReceiver(t)
    rec.answer(() => 410)
    const hook = await messageHook(rec.url)
    const { client, conversationId } = await s.visitor()
    await sendMessages(client, conversationId, 1, 'gone')
    const w = await until(async () => {
      const r = (await s.api('GET', `${base}/${hook.id}`)).body['webhook'] as Json
      return r['active'] === false ? r : undefined
    }, 10_000, 'deactivation')
    t.match(w, { active: false, deactivatedReason: /410/ })
    const count = rec.received.length
    await sendMessages(client, conversationId, 2, 'gone-later')
    await new Promise((r) => setTimeout(r, 1000))
    t.equal(rec.received.length, count, 'nothing more is sent to a deactivated webhook')
    // reactivated: the owed delivery goes out at once; events from while it was off were never queued
    rec.answer(() => 200)
    const on = await s.api('PATCH', `${base}/${hook.id}`, { active: true })
    t.match(on, { status: 200, body: { webhook: { active: true, deactivatedReason: null } } })
    const got = await until(() => rec.accepted()[0], 10_000, 'the owed delivery after reactivation')
    t.equal(content(got), 'gone-0')
    t.equal(got.deliveryId, rec.received[0]?.deliveryId, 'the same delivery id as the attempt that got 410')
    const listed = (await s.api('GET', `${base}/${hook.id}/deliveries`)).body['deliveries'] as Json[]
    t.same(listed.map((d) => d['status']), ['delivered'], 'one delivery, delivered; nothing queued while inactive')
    t.match(await s.api('DELETE', `${base}/${hook.id}`), { status: 200 })
  })
})
