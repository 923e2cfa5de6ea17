import t from 'tap'
import { loadConfig } from '../../engine/config.js'
import { DEFAULT_PARTITIONS } from '../../lua/keys.js'

const base = { REDIS_URL: 'redis://127.0.0.1:6379', ADMIN_TOKEN: 'x'.repeat(20) }

t.test('defaults with the two required variables', async (t) => {
  const r = loadConfig(base)
  t.equal(r.ok, true)
  if (!r.ok) return
  t.equal(r.config.port, 8080)
  t.equal(r.config.partitions, DEFAULT_PARTITIONS)
  t.equal(r.config.maxContentChars, 150_000)
  t.equal(r.config.messagesPerMinuteDefault, 200)
  t.equal(r.config.presenceGraceMs, r.config.heartbeatMs * 3)
  t.equal(r.config.waitReplicas, 0, 'acknowledged without waiting for replicas by default')
  t.equal(r.config.waitTimeoutMs, 1000)
})

t.test('REDIS_WAIT_REPLICAS and REDIS_WAIT_TIMEOUT_MS', async (t) => {
  const r = loadConfig({ ...base, REDIS_WAIT_REPLICAS: '2', REDIS_WAIT_TIMEOUT_MS: '250' })
  t.match(r, { ok: true, config: { waitReplicas: 2, waitTimeoutMs: 250 } })
  const bad = loadConfig({ ...base, REDIS_WAIT_REPLICAS: '-1', REDIS_WAIT_TIMEOUT_MS: '0' })
  t.equal(bad.ok, false)
  if (!bad.ok) t.match(bad.errors.join('\n'), /REDIS_WAIT_REPLICAS[\s\S]*REDIS_WAIT_TIMEOUT_MS/)
})

t.test('every bad variable is reported at once', async (t) => {
  const r = loadConfig({
    REDIS_URL: 'http://nope', ADMIN_TOKEN: 'short', PORT: 'eighty', PARTITIONS: '0', LOG_LEVEL: 'loud',
    MAX_FRAME_BYTES: '4096', MAX_PAYLOAD_BYTES: '2048',
  })
  t.equal(r.ok, false)
  if (r.ok) return
  const text = r.errors.join('\n')
  for (const name of ['REDIS_URL', 'ADMIN_TOKEN', 'PORT', 'PARTITIONS', 'LOG_LEVEL', 'MAX_PAYLOAD_BYTES']) {
    t.match(text, name, `reports ${name}`)
  }
  t.ok(r.errors.length >= 6)
})

t.test('missing required variables are named', async (t) => {
  const r = loadConfig({})
  t.equal(r.ok, false)
  if (r.ok) return
  t.same(r.errors.sort(), ['ADMIN_TOKEN is required', 'REDIS_URL (one instance) or REDIS_CLUSTER_NODES (a cluster) is required'])
})

t.test('REDIS_CLUSTER_NODES: a cluster; malformed or together with REDIS_URL: a config error', async (t) => {
  const r = loadConfig({ ADMIN_TOKEN: base.ADMIN_TOKEN, REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001' })
  t.ok(r.ok)
  if (r.ok) t.same(r.config.redis, { kind: 'cluster', password: null, nodes: [{ host: '127.0.0.1', port: 7000 }, { host: '127.0.0.1', port: 7001 }] })
  const bad = loadConfig({ ADMIN_TOKEN: base.ADMIN_TOKEN, REDIS_CLUSTER_NODES: '127.0.0.1:7000;127.0.0.1:7001' })
  t.notOk(bad.ok)
  if (!bad.ok) t.match(bad.errors.join('\n'), /REDIS_CLUSTER_NODES must be host:port/)
  const both = loadConfig({ ...base, REDIS_CLUSTER_NODES: '127.0.0.1:7000' })
  t.notOk(both.ok)
  if (!both.ok) t.match(both.errors.join('\n'), /not both/)
})
