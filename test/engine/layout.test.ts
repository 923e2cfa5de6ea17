// The key layout guard against a real redis-server: a fresh Redis records the layout, a changed
// PARTITIONS or data of Parley 0.1 (`{p<N>}` tags) makes the engine refuse to start, untouched; so
// does a Redis of the other mode (a standalone server as cluster seeds, a cluster node as REDIS_URL).
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort } from '../../engine/embedded/ports.js'
import { startRedis } from '../../engine/embedded/redis.js'
import { LAYOUT_KEY } from '../../lua/keys.js'
import { checkLayout, TAGS } from '../../lua/layout.js'
import { ADMIN_TOKEN, runEngineToExit } from '../helpers/engine.js'
import { startTestRedis } from '../helpers/stack.js'

t.test('layout: recorded on a fresh Redis, then compared', async (t) => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.quit())
  t.same(await checkLayout(redis, 64), { ok: true, created: true })
  t.same(JSON.parse((await redis.get(LAYOUT_KEY)) ?? ''), { tags: TAGS, partitions: 64 })
  t.same(await checkLayout(redis, 64), { ok: true, created: false })
  const changed = await checkLayout(redis, 16)
  t.match(changed, { ok: false, error: /PARTITIONS=16, but this Redis holds data laid out for PARTITIONS=64.*Set PARTITIONS=64/ })
  await redis.set(LAYOUT_KEY, 'something else')
  t.match(await checkLayout(redis, 64), { ok: false, error: /not a Parley layout/ })
})

t.test('the engine refuses data of Parley 0.1 and a changed PARTITIONS, and changes nothing', async (t) => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.quit())
  await redis.xadd('{p3}:events', '*', 't', 'account.created')
  await redis.hset('{p3}:tokens', 'h', 'agent:ag_1')
  const env = { REDIS_URL: server.url, ADMIN_TOKEN, PORT: '0', LOG_LEVEL: 'warn' }
  const legacy = await runEngineToExit(env)
  t.equal(legacy.code, 2)
  t.match(legacy.output, /refusing to start: this Redis holds data of Parley 0\.1/)
  t.equal(await redis.exists(LAYOUT_KEY), 0, 'no layout written over old data')
  t.equal(await redis.xlen('{p3}:events'), 1, 'old data untouched')

  await redis.flushall()
  await redis.set(LAYOUT_KEY, JSON.stringify({ tags: TAGS, partitions: 16 }))
  const changed = await runEngineToExit(env)
  t.equal(changed.code, 2)
  t.match(changed.output, /PARTITIONS=64, but this Redis holds data laid out for PARTITIONS=16/)
})

t.test('a Redis of the other mode than configured is a configuration error (exit 2), not an endless wait', async (t) => {
  const standalone = await startTestRedis(t)
  const asCluster = await runEngineToExit({ REDIS_URL: '', REDIS_CLUSTER_NODES: `127.0.0.1:${standalone.port}`, ADMIN_TOKEN, PORT: '0', LOG_LEVEL: 'warn' })
  t.equal(asCluster.code, 2, 'a standalone server given as REDIS_CLUSTER_NODES')
  t.match(asCluster.output, /REDIS_CLUSTER_NODES entry 127\.0\.0\.1:\d+ is a standalone redis-server \(cluster_enabled:0\): set REDIS_URL/)

  // a cluster-enabled node (no slots needed to say what it is)
  const dir = await mkdtemp(join(tmpdir(), 'parley-mode-'))
  const port = await freePort()
  const node = await startRedis({ dir, port, settings: { 'cluster-enabled': 'yes', 'cluster-config-file': 'nodes.conf' } })
  t.teardown(async () => { await node.stop(); await rm(dir, { recursive: true, force: true }) })
  const asSingle = await runEngineToExit({ REDIS_URL: node.url, ADMIN_TOKEN, PORT: '0', LOG_LEVEL: 'warn' })
  t.equal(asSingle.code, 2, 'a cluster node given as REDIS_URL')
  t.match(asSingle.output, /REDIS_URL points at a Redis Cluster node \(cluster_enabled:1\): set REDIS_CLUSTER_NODES/)
})
