// The gapless fan-out against a real Redis: notices published by real scripts reach the node once
// each, in log order, across subscriber connections killed mid-flow (CLIENT KILL), with held live
// notices merged without repeats; a gap the notice log no longer holds is reported as lost.
import { Redis } from 'ioredis'
import t from 'tap'
import { NOTICE_LOG_MS, noticeId, splitNotice } from '../../lua/codec.js'
import { keysFor } from '../../lua/keys.js'
import { compareStreamIds } from '../../lua/stream-id.js'
import { createPubsubFeed } from '../../lua/feeds/feed.js'
import { createSequencer } from '../../engine/fanout/sequencer.js'
import { createLogger } from '../../engine/log.js'
import { PARTITIONS, scriptFixture } from '../lua/fixture.js'

const log = createLogger('silent')

type T = { teardown(fn: () => unknown): void; ok(v: unknown, m: string): void }

async function node(t: T, url: string, name: string, now: () => number = Date.now) {
  const sub = new Redis(url, { connectionName: name })
  const redis = new Redis(url)
  t.teardown(() => Promise.all([sub.quit(), redis.quit()]).catch(() => {}))
  const delivered: string[] = []
  const lost: number[] = []
  const resynced: number[] = []
  const logKeys = Array.from({ length: PARTITIONS }, (_, p) => keysFor(p).notices)
  const seq = createSequencer({
    redis, logKeys, log, now, deliver: (raw) => delivered.push(raw), lost: (p) => lost.push(p), resynced: (p) => resynced.push(p),
  })
  const feed = createPubsubFeed({ sub, channels: Array.from({ length: PARTITIONS }, (_, p) => keysFor(p).fanout), log })
  await feed.start({ notice: seq.notice, down: seq.down, up: seq.up })
  t.ok(await seq.whenLive(5000), 'live after start')
  return { sub, redis, seq, delivered, lost, resynced }
}

/** message ids of the message.created notices delivered */
const messageIds = (raws: string[]) => raws.map((r) => splitNotice(r)).filter((n) => n?.header.t === 'message.created')
  .map((n) => (JSON.parse(n?.data ?? '{}') as { message: { id: string } }).message.id)

t.test('notices carry their log id and arrive once, in log order', async (t) => {
  const f = await scriptFixture(t)
  const n = await node(t, f.server.url, 'seq-a')
  const conv = await f.open(1000)
  const sent: string[] = []
  for (let i = 0; i < 20; i++) sent.push(JSON.parse((await f.send(conv['id'] as string, 2000 + i))[1] as string).id as string)
  await f.redis.ping()
  await new Promise((r) => setTimeout(r, 50))
  t.same(messageIds(n.delivered), sent, 'every message, in order')
  const ids = n.delivered.map(noticeId)
  t.ok(ids.every((id) => id !== null), 'every script notice has a log id')
  t.ok(ids.every((id, i) => i === 0 || compareStreamIds(id as string, ids[i - 1] as string) > 0), 'log ids ascend')
  const logged = (await f.redis.xrange(f.k.notices, '-', '+')) as [string, string[]][]
  t.same(logged.map(([id, fields]) => `${id} ${fields[1]}`), n.delivered, 'the log holds exactly what was published')
})

t.test('CLIENT KILL of the subscriber mid-flow: every notice still arrives exactly once, in order', async (t) => {
  const f = await scriptFixture(t)
  const n = await node(t, f.server.url, 'seq-victim')
  const conv = await f.open(1000)
  const sent: string[] = []
  let kills = 0
  let killing = true
  const killer = (async () => {
    while (kills < 4) {
      await new Promise((r) => setTimeout(r, 30))
      kills += Number(await f.redis.call('CLIENT', 'KILL', 'TYPE', 'pubsub'))
      await n.seq.whenLive(5000)
    }
    killing = false
  })()
  for (let i = 0; killing || i < 600; i++) { // as the agent: no flood limit
    sent.push(JSON.parse((await f.send(conv['id'] as string, 2000 + i, { senderType: 'agent' }))[1] as string).id as string)
  }
  await killer
  t.ok(kills >= 4, `the subscriber connection was killed mid-flow (${kills} times)`)
  // the last kill may not have been noticed yet: wait for the deliveries, not for a state
  for (let i = 0; i < 200 && messageIds(n.delivered).length < sent.length; i++) await new Promise((r) => setTimeout(r, 25))
  t.ok(await n.seq.whenLive(5000), 'live again')
  t.same(messageIds(n.delivered), sent, 'every message delivered once, in order')
  t.ok(n.resynced.length >= 1, 'the partition was caught up after the gap')
  t.same(n.lost, [], 'nothing reported lost')
})

t.test('live notices held during a catch-up are merged without repeats', async (t) => {
  const f = await scriptFixture(t)
  const n = await node(t, f.server.url, 'seq-held')
  const conv = await f.open(1000)
  const p = f.k.partition
  n.seq.down([p])
  t.notOk(n.seq.isLive(p), 'not live while down')
  const sent: string[] = []
  // the subscription is still there, so these arrive live and are held, and they are in the log too
  for (let i = 0; i < 10; i++) sent.push(JSON.parse((await f.send(conv['id'] as string, 2000 + i))[1] as string).id as string)
  await f.redis.ping()
  await new Promise((r) => setTimeout(r, 50))
  t.same(messageIds(n.delivered), [], 'nothing delivered while not live')
  n.seq.up([p])
  t.ok(await n.seq.whenLive(2000, p), 'live after the catch-up')
  t.same(messageIds(n.delivered), sent, 'each held notice once, in order')
})

t.test('a gap the log no longer holds: the partition is reported lost and goes live again', async (t) => {
  const f = await scriptFixture(t)
  let clock = 1_000_000
  const n = await node(t, f.server.url, 'seq-lost', () => clock)
  const conv = await f.open(1000)
  const p = f.k.partition
  await f.send(conv['id'] as string, 1500)
  await f.redis.ping()
  await new Promise((r) => setTimeout(r, 50))
  const before = n.delivered.length
  n.seq.down([p])
  await n.sub.unsubscribe(keysFor(p).fanout) // nothing arrives live either
  for (let i = 0; i < 5; i++) await f.send(conv['id'] as string, 2000 + i)
  // the log's window passes: what the node missed is trimmed
  const newest = ((await f.redis.xrevrange(f.k.notices, '+', '-', 'COUNT', 1)) as [string, string[]][])[0]?.[0] as string
  await f.redis.xtrim(f.k.notices, 'MINID', newest) // as a publish past the window would: only the newest stays
  await n.sub.subscribe(keysFor(p).fanout)
  clock += NOTICE_LOG_MS // the outage lasted the whole window
  n.seq.up([p])
  t.ok(await n.seq.whenLive(2000, p), 'live again')
  t.same(n.lost, [p], 'the partition is lost: its clients must reconnect and resume')
  t.equal(n.delivered.length, before, 'nothing half-delivered from a gap with holes')
  const after = JSON.parse((await f.send(conv['id'] as string, 3000))[1] as string).id as string
  await f.redis.ping()
  await new Promise((r) => setTimeout(r, 50))
  t.same(messageIds(n.delivered.slice(before)), [after], 'new notices flow again')
})

t.test('the notice log keeps only its window', async (t) => {
  const f = await scriptFixture(t)
  const conv = await f.open(1000)
  for (let i = 0; i < 5; i++) await f.send(conv['id'] as string, 2000 + i)
  const info = (await f.redis.call('XINFO', 'STREAM', f.k.notices)) as unknown[]
  t.ok(Array.isArray(info) || typeof info === 'object', 'the log exists')
  // entries older than the window are trimmed by the next publish (MINID ~ trims whole nodes, so
  // force a small node size to see it): entries 20 s old are dropped, fresh ones stay
  await f.redis.config('SET', 'stream-node-max-entries', '1')
  const old = Date.now() - 20_000
  await f.redis.xadd(f.k.notices, `${old}-0`, 'n', 'x').catch(() => null)
  await f.redis.del(f.k.notices)
  await f.redis.xadd(f.k.notices, `${old}-0`, 'n', '{"t":"old"}\n{}')
  await f.send(conv['id'] as string, 3000)
  const entries = (await f.redis.xrange(f.k.notices, '-', '+')) as [string, string[]][]
  t.notOk(entries.some(([id]) => id === `${old}-0`), 'an entry older than the window is trimmed')
  t.ok(entries.length >= 1, 'the new notice is there')
})

t.test('Redis went back in time (a lagging replica promoted): the node follows the log from its newest entry', async (t) => {
  const f = await scriptFixture(t)
  const n = await node(t, f.server.url, 'seq-regressed')
  const conv = await f.open(1000)
  const p = f.k.partition
  for (let i = 0; i < 3; i++) await f.send(conv['id'] as string, 2000 + i)
  await f.redis.ping()
  await new Promise((r) => setTimeout(r, 50))
  const before = n.delivered.length
  t.equal(messageIds(n.delivered).length, 3)
  n.seq.down([p])
  // the promoted replica's log: an older prefix whose newest id is below what the node delivered,
  // and a clock behind, so what it publishes next also sorts below it
  await f.redis.del(f.k.notices)
  await f.redis.xadd(f.k.notices, '5-0', 'n', '{"t":"old"}\n{}')
  n.seq.up([p])
  t.ok(await n.seq.whenLive(2000, p), 'live again')
  t.same(n.lost, [], 'not lost: the log is whole, only shorter')
  const raw = '6-0 {"t":"message.created","a":"x","i":"y"}\n{"message":{"id":"6-0"}}'
  await f.redis.publish(keysFor(p).fanout, raw)
  await f.redis.ping()
  await new Promise((r) => setTimeout(r, 50))
  t.same(n.delivered.slice(before), [raw], 'a notice above the log\'s newest entry is delivered, though below the old last id')
})
