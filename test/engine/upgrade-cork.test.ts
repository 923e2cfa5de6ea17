// Issue 10, item 7. Many sockets of both roles and codecs are opened at once and kept open: every
// one must get its hello and still answer a ping a while later — the guard against the session-1
// bug where ~1 in 8 fresh sockets were closed right after their hello (uWS's HttpResponse::cork()
// misreading the adopted socket after an asynchronous upgrade: uWebSockets issue #1928 / PR #1929,
// uWebSockets.js issue #1108). With `res.cork(() => res.upgrade(…))` this test drops sockets (1006)
// in about half of its runs, whether the hello is sent inside `open` or on the next flush.
//
// The engine's stderr must not hold uWS's "writes must be made from within a corked callback"
// warning. In this uWS build (20.30, before PR #1929) an asynchronous upgrade can only be corked
// through res.cork, which is that bug, so the upgrade is written uncorked and the warning is
// printed once per upgrade: that assertion is a `todo` until uWS carries the fix (engine/upgrade.ts).
import t from 'tap'
import { createTenant } from '../helpers/admin.js'
import { connect, type Client } from '../helpers/client.js'
import { startEngine } from '../helpers/engine.js'
import { startTestRedis } from '../helpers/stack.js'

const SOCKETS = Number(process.env['UPGRADE_SOCKETS'] ?? 240)

t.test('upgrades under load: no socket dropped after its hello; no uWS cork warning (todo)', async (t) => {
  const redis = await startTestRedis(t)
  const engine = await startEngine(t, { redisUrl: redis.url, env: { CONN_RATE_POINTS: '100000', OPS_PER_SECOND: '1000' } })
  const tenant = await createTenant(engine.http)
  const urls = [
    `${engine.ws}/ws/agent?token=${encodeURIComponent(tenant.agents[0]?.token ?? '')}`,
    `${engine.ws}/ws/widget?website_token=${encodeURIComponent(tenant.inbox['websiteToken'] as string)}`,
  ]
  const clients: Client[] = []
  t.teardown(() => Promise.all(clients.map((c) => c.close())))
  const closedEarly: string[] = []
  let done = false
  for (let i = 0; i < SOCKETS; i += 20) {
    const batch = await Promise.all(Array.from({ length: Math.min(20, SOCKETS - i) }, (_, j) =>
      connect(urls[(i + j) % 2] ?? '', { codec: (i + j) % 4 < 2 ? 'json' : 'msgpack' })))
    for (const c of batch) {
      clients.push(c)
      void c.closed.then(({ code }) => { if (!done) closedEarly.push(`code ${code}`) })
    }
  }
  t.equal(clients.length, SOCKETS, 'every socket got its hello')
  await new Promise((r) => setTimeout(r, 300))
  const pings = await Promise.all(clients.map((c) => c.request('ping').then((r) => r['ok'] === true, () => false)))
  t.equal(pings.filter((ok) => !ok).length, 0, `every socket still answers after its hello (${SOCKETS} opened)`)
  t.same(closedEarly, [], 'no socket was closed by the server')
  done = true
  const warnings = engine.output().split('\n').filter((l) => /corked callback/.test(l))
  t.comment(`uWS cork warnings: ${warnings.length} for ${SOCKETS} upgrades`)
  t.equal(warnings.length, 0, 'uWS printed no cork warning', {
    todo: 'uWS 20.30 cannot cork an asynchronous upgrade without closing ~1 in 8 sockets (uWebSockets PR #1929): engine/upgrade.ts',
  })
})
