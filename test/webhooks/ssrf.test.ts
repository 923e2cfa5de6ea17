// SSRF rules with real listening servers that count the connections they get: without
// WEBHOOKS_ALLOW_PRIVATE, webhooks to 127.0.0.1, [::1], 169.254.169.254, 10.1.2.3 and a name that
// resolves to loopback are refused at `POST …/webhooks` (400) and again at delivery (the engine
// that created them had the flag, the dispatcher has not), before any connection is attempted.
import t from 'tap'
import type { Json } from '../helpers/admin.js'
import { adminPost } from '../helpers/admin.js'
import { startEngine } from '../helpers/engine.js'
import { sendMessages, startReceiver, typingSubscriber, until, webhookStack } from './fixture.js'

t.test('private destinations are refused before any socket is opened', async (t) => {
  const s = await webhookStack(t, { dispatcherEnv: { WEBHOOKS_ALLOW_PRIVATE: '0', WEBHOOK_RETRY_BASE_MS: '100000', WEBHOOKS_TYPING: '0' } })
  const strict = await startEngine(t, { redisUrl: s.redisUrl, env: { DATABASE_URL: s.databaseUrl } })
  const v4 = await startReceiver(t, '127.0.0.1')
  const v6 = await startReceiver(t, '::1')
  const destinations = [
    v4.url, v6.url, `http://localhost:${v4.port}/hook`, `http://[::ffff:127.0.0.1]:${v4.port}/hook`, `http://0.0.0.0:${v4.port}/hook`,
    'http://169.254.169.254/latest/meta-data/', 'http://10.1.2.3/hook', 'http://192.168.1.1/hook', 'https://[fd00:ec2::254]/hook',
  ]

  t.test('refused at POST …/webhooks', async (t) => {
    for (const url of destinations) {
      const r = await adminPost(strict.http, `/api/v1/accounts/${s.accountId}/webhooks`, { url })
      t.match(r, { status: 400, body: { error: { code: 'bad_request', message: /refused/ } } }, url)
    }
    const patchTarget = await s.createWebhook({ url: 'https://example.com/hook', events: ['message_created'] })
    const patched = await fetch(`${strict.http}/api/v1/accounts/${s.accountId}/webhooks/${patchTarget.id}`, {
      method: 'PATCH', headers: { authorization: 'Bearer test-admin-token-0123456789' }, body: JSON.stringify({ url: v4.url }),
    })
    t.equal(patched.status, 400, 'a PATCH to a private URL is refused too')
    await s.api('DELETE', `/api/v1/accounts/${s.accountId}/webhooks/${patchTarget.id}`)
    t.equal(v4.connections() + v6.connections(), 0, 'no connection reached the listening servers')
  })

  t.test('refused again at delivery', async (t) => {
    const hooks: Json[] = []
    for (const url of destinations) hooks.push(await s.createWebhook({ url, events: ['message_created'] }))
    const { client, conversationId } = await s.visitor()
    await sendMessages(client, conversationId, 1, 'ssrf')
    for (const [i, hook] of hooks.entries()) {
      const d = await until(async () => {
        const list = (await s.api('GET', `/api/v1/accounts/${s.accountId}/webhooks/${hook['id']}/deliveries`)).body['deliveries'] as Json[]
        return list[0] !== undefined && list[0]['attempts'] > 0 ? list[0] : undefined
      }, 15_000, `the attempt to ${destinations[i]}`)
      t.match(d, { status: 'failed', lastStatusCode: null, lastError: /^refused before connecting/ }, destinations[i] ?? '')
    }
    t.equal(v4.connections() + v6.connections(), 0, 'no connection reached the listening servers')
    t.equal(v4.received.length + v6.received.length, 0)
    t.match(await s.dispatcher.metrics(), /parley_webhooks_deliveries_total\{result="refused"\} 9/)
  })

  t.test('WEBHOOKS_TYPING=0: no subscription to the fan-out channels', async (t) => {
    t.equal(await typingSubscriber(s.redisUrl), null)
  })
})
