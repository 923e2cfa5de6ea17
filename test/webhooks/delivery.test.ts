// Webhooks end to end with real processes: every event delivered once per webhook with a valid
// signature and its own X-Parley-Delivery id; `data` exactly the protocol event's data (compared
// with what an agent's socket received); filters (events, inboxIds, includePrivate); the admin
// API; a secret rotation during which a receiver holding either secret verifies.
import { isDeepStrictEqual } from 'node:util'
import t from 'tap'
import { DEFAULT_PARTITIONS } from '../../lua/keys.js'
import { verifySignature } from '../../archiver/webhooks/sign.js'
import { startEngine } from '../helpers/engine.js'
import type { Json } from '../helpers/admin.js'
import { sendMessages, startReceiver, typingSubscriber, until, webhookStack } from './fixture.js'

t.test('deliveries, data, filters, admin API and secret rotation', async (t) => {
  const s = await webhookStack(t, { engineEnv: { WEBHOOK_SECRET_OVERLAP_MS: '4000' } })
  const all = await startReceiver(t)
  const notes = await startReceiver(t)
  const w1 = await s.createWebhook({ url: all.url })
  t.match(w1, { id: /^wh_/, url: all.url, events: Array, allEvents: true, inboxIds: null, includePrivate: false, active: true, secret: /^whsec_/ })
  const w2 = await s.createWebhook({ url: notes.url, events: ['message_created'], inboxIds: [s.inboxId], includePrivate: true })
  t.same(w2.events, ['message_created'])

  const agent = await s.agent()
  const { client: widget, conversationId } = await s.visitor()
  const N = 12
  const ids = await sendMessages(widget, conversationId, N, 'v')
  const note = await agent.request('message.send', { conversationId, content: 'internal note', private: true, echoId: 'note-1' })
  t.equal(note['ok'], true)
  await agent.request('conversation.update', { conversationId, priority: 'high' })
  await agent.request('conversation.status', { conversationId, status: 'resolved' })
  await widget.request('conversation.rate', { conversationId, score: 5, comment: 'great' })
  await widget.request('contact.update', { name: 'Ann Visitor' })

  const byEvent = (r: typeof all, event: string) => r.received.filter((x) => x.body['event'] === event)
  await until(() => (byEvent(all, 'contact_updated').length > 0 && byEvent(all, 'csat_submitted').length > 0 ? true : undefined), 20_000, 'all deliveries')
  await until(() => (notes.received.length >= N + 1 + 1 ? true : undefined), 20_000, 'the notes webhook deliveries')

  t.test('N events → N deliveries, each signed, each with its own delivery id', async (t) => {
    const incoming = byEvent(all, 'message_created').filter((r) => r.body['data'].message.type === 'incoming')
    t.same(incoming.map((r) => r.body['data'].message.id), ids, 'every incoming message once, in order')
    const deliveryIds = all.received.map((r) => r.deliveryId)
    t.equal(new Set(deliveryIds).size, deliveryIds.length, 'X-Parley-Delivery unique per event')
    for (const r of all.received) {
      t.ok(verifySignature(r.signature, r.raw, w1.secret), `signature of ${r.body['event']} verifies`)
      t.equal(r.body['id'], r.deliveryId, 'body id is the delivery id')
      t.match(r.body, { accountId: s.accountId, createdAt: Number, event: r.event })
      t.notOk(verifySignature(r.signature, r.raw.replace('}', ' }'), w1.secret), 'a changed body does not verify')
    }
    t.notOk(all.received.some((r) => JSON.stringify(r.body).includes('internal note')), 'no private note without includePrivate')
  })

  t.test('data is exactly the protocol event data the agent socket got', async (t) => {
    const frames = agent.frames.filter((f) => f['op'] === 'event')
    const seen = (type: string, data: Json) => frames.some((f) => f['type'] === type && isDeepStrictEqual(f['data'], data))
    for (const r of byEvent(all, 'message_created')) t.ok(seen('message.created', r.body['data']), `message ${r.body['data'].message.id}`)
    for (const e of ['conversation_status_changed', 'conversation_updated', 'csat_submitted']) {
      const list = byEvent(all, e)
      t.ok(list.length > 0, `${e} delivered`)
      for (const r of list) {
        t.ok(seen('conversation.updated', r.body['data']), `${e} data is the conversation.updated data`)
        t.notOk('previousStatus' in r.body['data'], 'no archiver-only fields')
      }
    }
    t.ok(seen('conversation.created', byEvent(all, 'conversation_created')[0]?.body['data']), 'conversation_created')
    t.same(byEvent(all, 'conversation_status_changed')[0]?.body['data'].changed.includes('status'), true)
    t.same(byEvent(all, 'csat_submitted')[0]?.body['data'].conversation.rating.score, 5)
    const activity = byEvent(all, 'message_created').filter((r) => r.body['data'].message.type === 'activity')
    t.ok(activity.length >= 1, 'activity messages are message_created with type activity')
    const created = byEvent(all, 'contact_created')
    t.equal(created.length, 1, 'contact_created when the visitor first exists')
    t.same(Object.keys(created[0]?.body['data'].contact ?? {}).sort(), ['accountId', 'customAttributes', 'email', 'id', 'identifier', 'lastSeenAt', 'name', 'phone', 'verified'])
    t.match(byEvent(all, 'contact_updated')[0]?.body['data'], { contact: { name: 'Ann Visitor' }, changed: ['name'] })
    t.notOk(all.received.some((r) => r.event.startsWith('conversation_typing')), 'no typing unless asked')
  })

  t.test('filters: events, inboxIds, includePrivate', async (t) => {
    t.ok(notes.received.every((r) => r.body['event'] === 'message_created'), 'only the events asked for')
    t.ok(notes.received.some((r) => r.body['data'].message.content === 'internal note' && r.body['data'].message.private === true), 'private note with includePrivate')
    for (const r of notes.received) t.ok(verifySignature(r.signature, r.raw, w2.secret), 'signed with its own secret')
    t.notOk(notes.received.some((r) => verifySignature(r.signature, r.raw, w1.secret)), 'not with another webhook\'s secret')
  })

  t.test('admin API: list, get, patch, deliveries, errors', async (t) => {
    const base = `/api/v1/accounts/${s.accountId}/webhooks`
    const list = await s.api('GET', base)
    t.equal(list.status, 200)
    t.same(list.body['webhooks'].map((w: Json) => w['id']), [w1.id, w2.id])
    t.notOk(JSON.stringify(list.body).includes('whsec_'), 'the secret is shown at creation and rotation only')
    const deliveries = await s.api('GET', `${base}/${w1.id}/deliveries?limit=500`)
    t.equal(deliveries.status, 200)
    const listed = deliveries.body['deliveries'] as Json[]
    t.equal(listed.length, all.received.length)
    t.same(new Set(listed.map((d) => d['id'])), new Set(all.received.map((r) => r.deliveryId)), 'listed ids are the X-Parley-Delivery ids')
    t.ok(listed.every((d) => d['status'] === 'delivered' && d['attempts'] === 1 && d['lastStatusCode'] === 200 && d['nextAttemptAt'] === null))
    t.match(listed[0], { id: /^whd_[0-9a-f]{32}$/, event: String, status: 'delivered', attempts: 1, lastStatusCode: 200, lastError: null, createdAt: Number })
    t.equal((await s.api('GET', `${base}/${w1.id}/deliveries?status=dead`)).body['deliveries'].length, 0)
    t.equal((await s.api('GET', `${base}/${w1.id}/deliveries?status=nope`)).status, 400)

    const patched = await s.api('PATCH', `${base}/${w2.id}`, { events: ['message_created', 'conversation_typing_on'], active: false })
    t.match(patched, { status: 200, body: { webhook: { events: ['message_created', 'conversation_typing_on'], active: false } } })
    t.equal((await s.api('POST', base, { url: 'ftp://example.com/x' })).status, 400, 'http and https only')
    t.equal((await s.api('POST', base, { url: 'https://user:pw@example.com/x' })).status, 400, 'no credentials in the URL')
    t.match(await s.api('POST', base, { url: all.url, events: ['message_deleted'] }), { status: 400, body: { error: { code: 'bad_request' } } })
    t.equal((await s.api('POST', base, { url: all.url, inboxIds: ['in_AAAAAAAAAAAAAAAAAAAAAA'] })).status, 400, 'inboxes of the account only')
    t.equal((await s.api('POST', base, {})).status, 400)
    const other = await s.api('POST', '/api/v1/accounts', { name: 'Other' })
    t.equal((await s.api('GET', `/api/v1/accounts/${other.body['account'].id}/webhooks/${w1.id}`)).status, 404, 'another account\'s webhook is not found')
    const unauth = await fetch(`${s.engine.http}${base}`)
    t.equal(unauth.status, 401)
    const gone = await s.createWebhook({ url: all.url })
    t.match(await s.api('DELETE', `${base}/${gone.id}`), { status: 200, body: { deleted: true } })
    t.equal((await s.api('GET', `${base}/${gone.id}`)).status, 404)
    t.equal((await s.api('GET', `${base}/${w1.id}/deliveries/whd_00000000000000000000000000000000/replay`)).status, 404)
    t.equal((await s.api('POST', `${base}/${w1.id}/deliveries/whd_00000000000000000000000000000000/replay`)).status, 404)
  })

  t.test('typing only for a webhook that asks, with the protocol typing data', async (t) => {
    t.match(await typingSubscriber(s.redisUrl), { channels: DEFAULT_PARTITIONS }, 'the dispatcher subscribes to every partition channel')
    const typing = await startReceiver(t)
    await s.createWebhook({ url: typing.url, events: ['conversation_typing_on', 'conversation_typing_off'] })
    const before = all.received.length
    await widget.request('typing', { conversationId, on: true })
    await widget.request('typing', { conversationId, on: false })
    await until(() => (typing.received.length >= 2 ? true : undefined), 10_000, 'typing deliveries')
    t.same(typing.received.map((r) => r.body['event']), ['conversation_typing_on', 'conversation_typing_off'])
    const frames = agent.frames.filter((f) => f['op'] === 'event' && f['type'] === 'typing')
    for (const r of typing.received) t.ok(frames.some((f) => isDeepStrictEqual(f['data'], r.body['data'])), 'data is the typing event data')
    t.match(typing.received[0]?.body['data'], { conversationId, on: true, sender: { type: 'contact' } })
    await sendMessages(widget, conversationId, 1, 'after-typing')
    await until(() => all.received.slice(before).find((x) => x.body['data']?.message?.content === 'after-typing-0'), 10_000, 'a later message')
    t.notOk(all.received.slice(before).some((r) => r.event.startsWith('conversation_typing')), 'a webhook with all events gets no typing')
  })

  t.test('without DATABASE_URL the deliveries routes answer 503', async (t) => {
    const bare = await startEngine(t, { redisUrl: s.redisUrl })
    const res = await fetch(`${bare.http}/api/v1/accounts/${s.accountId}/webhooks/${w1.id}/deliveries`, { headers: { authorization: `Bearer test-admin-token-0123456789` } })
    t.equal(res.status, 503)
    t.match(await res.json(), { error: { code: 'unavailable', message: /DATABASE_URL/ } })
  })

  t.test('rotation: during the overlap either secret verifies, after it only the new one', async (t) => {
    const before = all.received.length
    const rotated = await s.api('POST', `/api/v1/accounts/${s.accountId}/webhooks/${w1.id}/secret`)
    t.equal(rotated.status, 200)
    const fresh = rotated.body['secret'] as string
    t.match(fresh, /^whsec_/)
    t.not(fresh, w1.secret)
    await sendMessages(widget, conversationId, 1, 'after-rotation')
    const r = await until(() => all.received.slice(before).find((x) => x.body['data']?.message?.content === 'after-rotation-0'), 10_000, 'delivery after rotation')
    t.equal(r.signature.split(',').filter((p) => p.startsWith('v1=')).length, 2, 'two v1 signatures during the overlap')
    t.ok(verifySignature(r.signature, r.raw, w1.secret), 'a receiver holding the old secret verifies')
    t.ok(verifySignature(r.signature, r.raw, fresh), 'a receiver holding the new secret verifies')
    await new Promise((res) => setTimeout(res, Math.max(0, (rotated.body['previousSecretExpiresAt'] as number) - Date.now() + 100)))
    await sendMessages(widget, conversationId, 1, 'after-overlap')
    const later = await until(() => all.received.find((x) => x.body['data']?.message?.content === 'after-overlap-0'), 10_000, 'delivery after the overlap')
    t.ok(verifySignature(later.signature, later.raw, fresh), 'the new secret verifies')
    t.notOk(verifySignature(later.signature, later.raw, w1.secret), 'the old one no longer does')
  })
})
