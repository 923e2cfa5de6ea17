// The acknowledged-messages ledger (engine/durability/acked.ts) against a real Redis and
// PostgreSQL: of the messages acknowledged lately, those Redis no longer holds and the archive never
// got are reported lost, once; what the log trimmed or the archiver committed is not.
import postgres from 'postgres'
import t from 'tap'
import { ensurePartitionsAhead, runMigrations } from '../../archiver/migrate.js'
import { createAckLedger, type LostMessage } from '../../engine/durability/acked.js'
import { newUid } from '../../engine/ids.js'
import { createLogger } from '../../engine/log.js'
import { json } from '../../lua/scripts.js'
import { startTestPostgres } from '../helpers/stack.js'
import { PARTITIONS, scriptFixture } from '../lua/fixture.js'

const log = createLogger('silent')

t.test('what Redis lost of what this node acknowledged is counted once; trimmed or archived is not', async (t) => {
  const f = await scriptFixture(t)
  const pg = await startTestPostgres(t)
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} })
  t.teardown(() => sql.end())
  await runMigrations(sql)
  await ensurePartitionsAhead(sql, Date.now(), 1)
  const conv = await f.open(1000)
  const convId = conv['id'] as string
  const p = f.k.partition
  const reported: LostMessage[] = []
  const ledger = createAckLedger({ redis: f.redis, sql, partitions: PARTITIONS, log, retryMs: 10, onLost: (_, lost) => reported.push(...lost) })
  const bare = createAckLedger({ redis: f.redis, sql: null, partitions: PARTITIONS, log, onLost: () => {} })

  const sent: { id: string; uid: string }[] = []
  for (let i = 0; i < 10; i++) {
    const uid = newUid()
    const reply = await f.send(convId, 2000 + i, { uid })
    const id = json(reply, 1)['id'] as string
    ledger.record(f.account.id, convId, id, uid)
    bare.record(f.account.id, convId, id, uid)
    sent.push({ id, uid })
  }
  t.equal(ledger.size(p), 10)
  t.same(await ledger.check(p), [], 'nothing lost while Redis holds everything')

  const at = (i: number) => sent[i] as { id: string; uid: string }
  const logKey = f.k.conversationLog(convId)
  // the two oldest trimmed away once archived; three of the newest gone from Redis (as with a
  // failover to a lagging replica), one of which the archiver had committed before
  await f.redis.call('XTRIM', logKey, 'MINID', '=', at(2).id)
  await f.redis.xdel(logKey, at(5).id, at(7).id, at(9).id)
  for (const i of [0, 1, 7]) {
    await sql`insert into messages (uid, stream_id, conversation_id, account_id, inbox_id, type, created_at)
              values (${at(i).uid}, ${at(i).id}, ${convId}, ${f.account.id}, ${f.inbox.id}, 'incoming', now())`
  }
  const lost = await ledger.check(p)
  t.same(lost.map((m) => m.id), [at(5).id, at(9).id], 'lost: missing from the log between entries it holds, and not archived')
  t.same(reported.map((m) => m.uid), [at(5).uid, at(9).uid], 'reported through onLost')
  t.same(await ledger.check(p), [], 'counted once')
  t.equal(ledger.size(p), 8, 'the lost are forgotten, the rest remembered')

  // without an archive to ask, only a gap is surely lost (trimmed entries were archived)
  t.same((await bare.check(p)).map((m) => m.id), [at(5).id, at(7).id, at(9).id], 'no archive: the gaps')

  // another message id in the place of a lost one (reused after a failover) is not the same message
  const other = createAckLedger({ redis: f.redis, sql: null, partitions: PARTITIONS, log, onLost: () => {} })
  other.record(f.account.id, convId, at(3).id, newUid())
  t.same((await other.check(p)).length, 1, 'an id held by another message counts as lost')
  t.same(await ledger.check(99), [], 'a partition out of range has nothing')
})
