import t from 'tap'
import { adminPost } from '../helpers/admin.js'
import { startEngine } from '../helpers/engine.js'
import { startTestRedis } from '../helpers/stack.js'
import { Redis } from 'ioredis'
import { LAYOUT_KEY, partitionOfKey } from '../../lua/keys.js'

t.test('admin API', async (t) => {
  const redis = await startTestRedis(t)
  const engine = await startEngine(t, { redisUrl: redis.url })
  const { http } = engine

  t.test('creates an account, an inbox and an agent', async (t) => {
    const acct = await adminPost(http, '/api/v1/accounts', { name: 'Acme' })
    t.equal(acct.status, 200)
    t.match(acct.body, { account: { id: /^a_/, name: 'Acme', createdAt: Number } })
    const accountId = acct.body['account'].id as string

    const inbox = await adminPost(http, `/api/v1/accounts/${accountId}/inboxes`, {
      name: 'Site', allowedOrigins: ['https://acme.test'], messagesPerMinute: 30, autoAssign: false,
    })
    t.equal(inbox.status, 200)
    t.match(inbox.body['inbox'], {
      id: /^in_/, accountId, name: 'Site', allowedOrigins: ['https://acme.test'], messagesPerMinute: 30, autoAssign: false,
      websiteToken: String, hmacSecret: /^[0-9a-f]{64}$/, apiToken: String,
    })
    const defaults = await adminPost(http, `/api/v1/accounts/${accountId}/inboxes`, { name: 'Other' })
    t.match(defaults.body['inbox'], { messagesPerMinute: 200, autoAssign: true, allowedOrigins: [] })

    const inboxId = inbox.body['inbox'].id as string
    const agent = await adminPost(http, `/api/v1/accounts/${accountId}/agents`, {
      name: 'Ann', role: 'administrator', inboxIds: [inboxId], maxConversations: 5,
    })
    t.equal(agent.status, 200)
    t.match(agent.body, {
      agent: { id: /^ag_/, accountId, name: 'Ann', role: 'administrator', inboxIds: [inboxId], maxConversations: 5, availability: 'online', online: false },
      token: String,
    })
    const token = agent.body['token'] as string
    t.ok(Buffer.from(token.split('.')[1] ?? '', 'base64url').length >= 16, 'token carries at least 128 random bits')

    // tokens are stored hashed, and every change went onto the partition event stream
    const r = new Redis(redis.url)
    t.teardown(() => r.quit())
    const keys = await r.keys('*')
    t.ok(keys.every((k) => partitionOfKey(k) !== null || k === LAYOUT_KEY), 'every key but the layout record carries a partition tag')
    const dump = JSON.stringify(await Promise.all(keys.filter((k) => !k.endsWith(':events')).map(async (k) => {
      const type = await r.type(k)
      return type === 'hash' ? r.hgetall(k) : type === 'set' ? r.smembers(k) : type === 'zset' ? r.zrange(k, '0', '-1') : r.get(k)
    })))
    t.notMatch(dump, token, 'the agent token is not stored in clear')
    t.notMatch(dump, inbox.body['inbox'].apiToken as string, 'the api token is not stored in clear')
    const streams = keys.filter((k) => k.endsWith(':events'))
    const types: string[] = []
    for (const s of streams) for (const [, f] of await r.xrange(s, '-', '+')) types.push(f[1] as string)
    t.same(types.sort(), ['account.created', 'agent.created', 'inbox.created', 'inbox.created'])
  })

  t.test('a wrong or missing admin token is 401', async (t) => {
    const wrong = await adminPost(http, '/api/v1/accounts', { name: 'x' }, 'not-the-token')
    t.equal(wrong.status, 401)
    t.match(wrong.body, { error: { code: 'unauthorized', message: String } })
    const res = await fetch(`${http}/api/v1/accounts`, { method: 'POST', body: '{"name":"x"}' })
    t.equal(res.status, 401)
  })

  t.test('bad bodies are 400 with a code', async (t) => {
    const { body } = await adminPost(http, '/api/v1/accounts', { name: 'Acme' })
    const id = body['account'].id as string
    const cases: [string, unknown][] = [
      ['/api/v1/accounts', '{not json'],
      ['/api/v1/accounts', { name: 42 }],
      ['/api/v1/accounts', { name: '' }],
      [`/api/v1/accounts/${id}/inboxes`, { name: 'x', messagesPerMinute: 0 }],
      [`/api/v1/accounts/${id}/inboxes`, { name: 'x', allowedOrigins: ['not an origin'] }],
      [`/api/v1/accounts/${id}/inboxes`, { name: 'x', autoAssign: 'yes' }],
      [`/api/v1/accounts/${id}/agents`, { name: 'x' }],
      [`/api/v1/accounts/${id}/agents`, { name: 'x', inboxIds: ['in_nope'] }],
      [`/api/v1/accounts/${id}/agents`, { name: 'x', inboxIds: [], role: 'king' }],
      [`/api/v1/accounts/${id}/agents`, { name: 'x', inboxIds: [], maxConversations: -1 }],
    ]
    for (const [path, b] of cases) {
      const r = await adminPost(http, path, b)
      t.equal(r.status, 400, `${path} ${JSON.stringify(b)}`)
      t.equal(r.body['error']?.code, 'bad_request')
    }
    const missing = await adminPost(http, '/api/v1/accounts/a_AAAAAAAAAAAAAAAAAAAAAA/inboxes', { name: 'x' })
    t.equal(missing.status, 404)
    t.equal(missing.body['error'].code, 'not_found')
    const big = await adminPost(http, '/api/v1/accounts', { name: 'x'.repeat(100_000) })
    t.equal(big.status, 413)
  })

  t.test('an inbox of another account cannot be given to an agent', async (t) => {
    const a = (await adminPost(http, '/api/v1/accounts', { name: 'A' })).body['account'].id as string
    const b = (await adminPost(http, '/api/v1/accounts', { name: 'B' })).body['account'].id as string
    const inboxB = (await adminPost(http, `/api/v1/accounts/${b}/inboxes`, { name: 'B site' })).body['inbox'].id as string
    const r = await adminPost(http, `/api/v1/accounts/${a}/agents`, { name: 'x', inboxIds: [inboxB] })
    t.equal(r.status, 400)
  })

  t.test('health, readiness and metrics', async (t) => {
    t.equal((await fetch(`${http}/healthz`)).status, 200)
    t.equal((await fetch(`${http}/readyz`)).status, 200)
    const text = await (await fetch(`${http}/metrics`)).text()
    for (const name of ['parley_connections', 'parley_frames_in_total', 'parley_frames_out_total', 'parley_errors_total', 'parley_redis_script_seconds']) {
      t.match(text, name)
    }
    t.match(text, /parley_errors_total\{code="unauthorized"\} \d+/)
    t.equal((await fetch(`${http}/nope`)).status, 404)
  })
})
