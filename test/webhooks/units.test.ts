// The webhook pieces that need no process: the SSRF address rules, URL checks and the guarded
// DNS lookup, signatures and their verification, the retry delay, the stream-entry → webhook
// event mapping and the filter, the dispatcher's configuration.
import t from 'tap'
import { loadConfig } from '../../archiver/webhooks/config.js'
import { webhookEvent } from '../../archiver/webhooks/events.js'
import { deliveryId, wants } from '../../archiver/webhooks/intake.js'
import { retryDelayMs } from '../../archiver/webhooks/sender.js'
import { signatureHeader, verifySignature } from '../../archiver/webhooks/sign.js'
import type { StreamEvent } from '../../lua/codec.js'
import { guardedLookup, parseWebhookUrl, refusedAddress, refusedDestination } from '../../lua/webhook-address.js'
import { signingSecrets, webhookFrom, webhookHash, type WebhookDef } from '../../lua/webhooks.js'

t.test('address rules', async (t) => {
  for (const a of ['127.0.0.1', '127.1.2.3', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.0.10', '169.254.169.254', '100.100.100.200',
    '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fd00:ec2::254', 'fc00::1', 'ff02::1', '::ffff:127.0.0.1',
    '::ffff:7f00:1', '64:ff9b::a01:203', '::ffff:169.254.169.254', '[::1]', '198.18.0.1', '2001:db8::1']) {
    t.not(refusedAddress(a), null, `${a} refused`)
  }
  for (const a of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '93.184.216.34']) {
    t.equal(refusedAddress(a), null, `${a} allowed`)
  }
  t.match(parseWebhookUrl('ftp://x.example/'), { error: /http/ })
  t.match(parseWebhookUrl('https://u:p@x.example/'), { error: /credentials/ })
  t.match(parseWebhookUrl('not a url'), { error: /valid/ })
  t.ok('url' in parseWebhookUrl('https://hooks.example.com/x?y=1'))
  t.match(await refusedDestination(new URL('http://localhost:9/'), false), /resolves to 127\.0\.0\.1/)
  t.equal(await refusedDestination(new URL('http://localhost:9/'), true), null, 'allowed with the flag')
  t.match(await refusedDestination(new URL('http://[::1]:9/'), false), /::1/)
  const lookup = guardedLookup(false)
  const err = await new Promise<Error | null>((resolve) => lookup('localhost', { all: true }, (e) => resolve(e)))
  t.match(err, { code: 'ERR_WEBHOOK_DESTINATION_REFUSED' }, 'the socket lookup refuses a name resolving to loopback')
  const open = guardedLookup(true)
  const addr = await new Promise<string>((resolve) => open('localhost', {}, (_e, a) => resolve(String(a))))
  t.equal(addr, '127.0.0.1')
})

t.test('signatures', async (t) => {
  const body = '{"id":"whd_1","event":"message_created"}'
  const now = 1_764_000_000_000
  const header = signatureHeader(['s1', 's2'], body, now)
  t.match(header, /^t=1764000000,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/)
  t.ok(verifySignature(header, body, 's1', now))
  t.ok(verifySignature(header, body, 's2', now + 299_000), 'within the 5-minute tolerance')
  t.notOk(verifySignature(header, body, 's2', now + 301_000), 'outside the tolerance')
  t.notOk(verifySignature(header, body, 's3', now), 'another secret')
  t.notOk(verifySignature(header, `${body} `, 's1', now), 'another body')
  t.notOk(verifySignature('v1=abc', body, 's1', now), 'no timestamp')
  const w: WebhookDef = {
    id: 'wh_x', accountId: 'a_x', url: 'https://x.example/', events: null, inboxIds: null, includePrivate: false, active: true,
    deactivatedReason: null, secret: 'new', previousSecret: 'old', previousSecretExpiresAt: now + 1000, createdAt: now, updatedAt: now,
  }
  t.same(signingSecrets(w, now), ['new', 'old'])
  t.same(signingSecrets(w, now + 1000), ['new'], 'the previous secret stops at the end of the overlap')
  t.same(webhookFrom(webhookHash(w)), w, 'the Redis hash round-trips')
  t.same(webhookFrom(webhookHash({ ...w, events: ['message_created'], inboxIds: ['in_1'] })), { ...w, events: ['message_created'], inboxIds: ['in_1'] })
  t.equal(webhookFrom({ id: 'wh_x' }), null)
  t.match(deliveryId('wh_a', 'u1'), /^whd_[0-9a-f]{32}$/)
  t.equal(deliveryId('wh_a', 'u1'), deliveryId('wh_a', 'u1'), 'stable')
  t.not(deliveryId('wh_a', 'u1'), deliveryId('wh_b', 'u1'), 'per webhook')
})

t.test('retry delay: exponential from the base, capped, jittered in [0.5, 1)', async (t) => {
  t.equal(retryDelayMs(1, 10_000, 3_600_000, () => 0), 5_000)
  t.equal(retryDelayMs(1, 10_000, 3_600_000, () => 0.999999), 10_000)
  t.equal(retryDelayMs(4, 10_000, 3_600_000, () => 0.999999), 80_000)
  t.equal(retryDelayMs(40, 10_000, 3_600_000, () => 0.5), 2_700_000, 'capped')
})

const ev = (type: string, data: Record<string, unknown>): StreamEvent => ({ id: '5-1', type, accountId: 'a_1', uid: 'u', ts: 10, data })

t.test('stream entries → webhook events', async (t) => {
  const message = { id: '1-0', conversationId: 'cv_1', inboxId: 'in_1', type: 'incoming', private: false }
  t.same(webhookEvent(ev('message.created', { message, conversation: { id: 'cv_1' }, waitedSince: 3 })),
    { event: 'message_created', inboxId: 'in_1', private: false, lane: 'cv_1', data: { message } }, 'only {message}')
  t.match(webhookEvent(ev('message.updated', { message: { ...message, private: true } })), { event: 'message_updated', private: true })
  const conversation = { id: 'cv_1', inboxId: 'in_1', status: 'open' }
  t.same(webhookEvent(ev('conversation.updated', { conversation, changed: ['status'], previousStatus: 'resolved' }))?.data, { conversation, changed: ['status'] })
  t.match(webhookEvent(ev('conversation.updated', { conversation, changed: ['status'] })), { event: 'conversation_status_changed' })
  t.match(webhookEvent(ev('conversation.updated', { conversation, changed: ['rating'] })), { event: 'csat_submitted' })
  t.match(webhookEvent(ev('conversation.updated', { conversation, changed: ['priority'] })), { event: 'conversation_updated' })
  t.match(webhookEvent(ev('conversation.created', { conversation })), { event: 'conversation_created', lane: 'cv_1', data: { conversation } })
  t.match(webhookEvent(ev('contact.created', { id: 'ct_1', accountId: 'a_1', inboxId: 'in_1', name: null })), { event: 'contact_created', inboxId: 'in_1', lane: 'ct_1' })
  t.notOk('inboxId' in (webhookEvent(ev('contact.created', { id: 'ct_1', inboxId: 'in_1' }))?.data['contact'] as object))
  t.match(webhookEvent(ev('contact.updated', { id: 'ct_1', name: 'A', changed: ['name'] })), { event: 'contact_updated', inboxId: null, data: { changed: ['name'] } })
  for (const type of ['account.created', 'agent.updated', 'conversation.seen', 'conversation.rated', 'webhook.created', 'contact.evicted']) {
    t.equal(webhookEvent(ev(type, { conversation })), null, `${type} is no webhook event`)
  }
  t.equal(webhookEvent(ev('message.created', { message: 'nope' })), null, 'malformed: nothing')

  const w: WebhookDef = {
    id: 'wh_x', accountId: 'a_1', url: 'https://x.example/', events: null, inboxIds: null, includePrivate: false, active: true,
    deactivatedReason: null, secret: 's', previousSecret: null, previousSecretExpiresAt: null, createdAt: 5, updatedAt: 5,
  }
  const m = webhookEvent(ev('message.created', { message })) as NonNullable<ReturnType<typeof webhookEvent>>
  t.ok(wants(w, m, 10))
  t.notOk(wants(w, m, 4), 'not events from before the webhook existed')
  t.notOk(wants({ ...w, active: false }, m, 10))
  t.notOk(wants({ ...w, events: ['message_updated'] }, m, 10))
  t.notOk(wants({ ...w, inboxIds: ['in_2'] }, m, 10))
  t.ok(wants({ ...w, inboxIds: ['in_1'] }, m, 10))
  t.notOk(wants(w, { ...m, private: true }, 10), 'private notes need includePrivate')
  t.ok(wants({ ...w, includePrivate: true }, { ...m, private: true }, 10))
  t.notOk(wants(w, { ...m, event: 'conversation_typing_on' }, 10), 'typing only when asked')
})

t.test('dispatcher config', async (t) => {
  const ok = loadConfig({ DATABASE_URL: 'postgres://x@h/db', REDIS_URL: 'redis://h:6379' })
  t.match(ok, { ok: true, config: { retryBaseMs: 10_000, retryMaxAgeMs: 86_400_000, timeoutMs: 10_000, port: 8082, consumer: 'dispatcher', allowPrivate: false, typing: true } })
  t.match(loadConfig({ DATABASE_URL: 'postgres://x@h/db', REDIS_URL: 'redis://h', WEBHOOKS_TYPING: '0' }), { ok: true, config: { typing: false } }, 'typing subscription can be turned off')
  t.match(loadConfig({ DATABASE_URL: 'postgres://x@h/db', REDIS_URL: 'redis://h', WEBHOOKS_TYPING: 'sometimes' }), { ok: false, errors: [/WEBHOOKS_TYPING/] })
  const bad = loadConfig({ REDIS_URL: 'http://x', WEBHOOK_TIMEOUT_MS: '5', WEBHOOKS_ALLOW_PRIVATE: 'maybe', WEBHOOK_LEASE_MS: '1000', WEBHOOK_RETRY_BASE_MS: 'x' })
  t.equal(bad.ok, false)
  if (!bad.ok) {
    for (const re of [/DATABASE_URL is required/, /REDIS_URL/, /WEBHOOK_TIMEOUT_MS/, /WEBHOOKS_ALLOW_PRIVATE/, /WEBHOOK_RETRY_BASE_MS/]) {
      t.ok(bad.errors.some((e) => re.test(e)), `reports ${re}`)
    }
  }
  t.match(loadConfig({ DATABASE_URL: 'postgres://x@h/db', REDIS_URL: 'redis://h', WEBHOOK_TIMEOUT_MS: '5000', WEBHOOK_LEASE_MS: '4000' }), { ok: false, errors: [/LEASE/] })
  const onCluster = { DATABASE_URL: 'postgres://x@h/db', REDIS_CLUSTER_NODES: 'a:7000,b:7001', REDIS_CLUSTER_PASSWORD: 'pw' }
  t.match(loadConfig(onCluster), {
    ok: true, config: { redisUrl: '', redis: { kind: 'cluster', nodes: [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }], password: 'pw' }, typing: true },
  }, 'a cluster as the archiver reads it; typing heard through shard subscriptions there too')
  t.match(loadConfig({ ...onCluster, WEBHOOKS_TYPING: '0' }), { ok: true, config: { typing: false } })
  t.match(loadConfig({ ...onCluster, REDIS_URL: 'redis://h' }), { ok: false, errors: [/not both/] })
})
