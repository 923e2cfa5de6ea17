// The stream consumer in-process against a real Redis and PostgreSQL: exactly N rows for N
// messages, several archivers sharing partitions, trimming below what is archived only, stalled
// consumers' entries claimed, deleted-while-pending entries raising the alarm, PostgreSQL refusing
// writes (retried with backoff, nothing acknowledged, not ready) and catching up.
import t from 'tap';
import { GROUP, groups, pendingSummary, streamEntries } from '../../archiver/streams.js';
import { archiveFixture, metricValue, waitFor } from './fixture.js';

const f = await archiveFixture(t);
const T0 = Date.UTC(2024, 4, 1, 9, 0, 0);

async function messagesOf(convId: string): Promise<number> {
  return f.count('messages', f.sql`conversation_id = ${convId}`);
}

/** XREADGROUP as a consumer that then "dies" holding the entries (never acknowledges). */
async function ghostRead(name: string, count: number): Promise<string[]> {
  await f.redis.call('XGROUP', 'CREATE', f.k.events, GROUP, '0', 'MKSTREAM').catch(() => undefined);
  const reply = await f.redis.call('XREADGROUP', 'GROUP', GROUP, name, 'COUNT', count, 'STREAMS', f.k.events, '>');
  return streamEntries(reply, f.k.events).map((e) => e.id);
}

async function streamHas(id: string): Promise<boolean> {
  return ((await f.redis.xrange(f.k.events, id, id)) as unknown[]).length === 1;
}

t.test('N messages in, exactly N rows, everything acknowledged, metrics tell', async (t) => {
  const { consumer, metrics } = f.consumer(t, { batchSize: 50 });
  const conv = await f.open(T0);
  const N = 400;
  await Promise.all(Array.from({ length: N }, (_, i) => f.send(conv.id, T0 + 1 + i, i % 2 ? { senderType: 'agent' } : {})));
  await waitFor(async () => (await messagesOf(conv.id)) === N, 15_000, 'N rows');
  await f.drained(consumer);
  t.equal(await messagesOf(conv.id), N, 'exactly N');
  t.equal(await f.count('messages', f.sql`conversation_id = ${conv.id} and stream_id is not null`), N);

  metrics.setProbes({ lag: () => consumer.lag(), redisMemory: async () => ({ used: 12345, max: 0 }) });
  const text = await metrics.registry.metrics();
  t.equal(metricValue(text, 'parley_archiver_rows_total', '{table="messages"}'), N);
  t.ok((metricValue(text, 'parley_archiver_batch_size_count') ?? 0) >= N / 50, 'one observation per batch');
  t.equal(metricValue(text, 'parley_archiver_lag_ms', `{partition="${f.partition}"}`), 0, 'no lag once drained');
  t.equal(metricValue(text, 'parley_archiver_pending_entries', `{partition="${f.partition}"}`), 0);
  t.equal(metricValue(text, 'parley_archiver_redis_used_memory_bytes'), 12345);
  t.equal(metricValue(text, 'parley_archiver_lost_entries_total'), 0);
  const [row] = await f.sql`select last_activity_at from conversations where id = ${conv.id}`;
  t.equal((row?.['last_activity_at'] as Date).getTime(), T0 + N, 'the conversation carries its latest state');
});

t.test('two archivers share the partitions: still exactly N, no duplicate, latest state wins', async (t) => {
  const a = f.consumer(t, { batchSize: 7 });
  const b = f.consumer(t, { batchSize: 5 });
  const convs = await Promise.all([f.open(T0 + 10_000), f.open(T0 + 10_000), f.open(T0 + 10_000)]);
  const per = 150;
  for (let i = 0; i < per; i++) await Promise.all(convs.map((c) => f.send(c.id, T0 + 10_001 + i)));
  for (const c of convs) await waitFor(async () => (await messagesOf(c.id)) === per, 15_000, 'rows');
  await f.drained(a.consumer);
  const got = (await Promise.all([a, b].map((x) => x.metrics.registry.getSingleMetric('parley_archiver_events_total')?.get())))
    .map((m) => m?.values[0]?.value ?? 0);
  t.ok((got[0] ?? 0) > 0 && (got[1] ?? 0) > 0, `both archivers took entries (${got.join(', ')})`);
  for (const c of convs) {
    t.equal(await messagesOf(c.id), per);
    const [row] = await f.sql`select last_activity_at, waiting_since from conversations where id = ${c.id}`;
    t.equal((row?.['last_activity_at'] as Date).getTime(), T0 + 10_000 + per);
  }
});

t.test('trimming removes only what is archived; a stalled consumer\'s entries stay until claimed', async (t) => {
  const { consumer, metrics } = f.consumer(t, { claimIdleMs: 60_000 });
  const conv = await f.open(T0 + 20_000);
  for (let i = 0; i < 10; i++) await f.send(conv.id, T0 + 20_001 + i);
  await f.drained(consumer);
  await consumer.janitor(f.partition);
  const left = await f.redis.xlen(f.k.events);
  t.ok(left <= 1, `archived entries are trimmed (${left} left)`);

  await consumer.stop(); // a stalled consumer takes the next entries and never acknowledges them
  for (let i = 0; i < 5; i++) await f.send(conv.id, T0 + 20_100 + i);
  const held = await ghostRead('ghost-1', 4);
  t.equal(held.length, 4);
  const c2 = f.consumer(t, { claimIdleMs: 60_000 });
  for (let i = 0; i < 5; i++) await f.send(conv.id, T0 + 20_200 + i);
  await waitFor(async () => (await pendingSummary(f.redis, f.k.events)).count === 4 &&
    (await groups(f.redis, f.k.events))[0]?.lag === 0, 10_000, 'the rest archived');
  await c2.consumer.janitor(f.partition);
  for (const id of held) t.ok(await streamHas(id), `the unarchived entry ${id} is still in the stream`);
  t.equal(await messagesOf(conv.id), 20 - held.length, 'the held entries (one message each) are not archived yet');

  const c3 = f.consumer(t, { claimIdleMs: 10 });
  await new Promise((r) => setTimeout(r, 30));
  await c3.consumer.janitor(f.partition); // claims them from ghost-1, archives, acknowledges, trims
  t.equal(await messagesOf(conv.id), 20, 'claimed and archived');
  t.equal((await pendingSummary(f.redis, f.k.events)).count, 0);
  t.equal(metricValue(await c3.metrics.registry.metrics(), 'parley_archiver_claimed_entries_total'), 4);
  await c3.consumer.janitor(f.partition);
  for (const id of held) t.notOk(await streamHas(id), `${id} is trimmed once archived`);
  t.ok((metricValue(await metrics.registry.metrics(), 'parley_archiver_trimmed_entries_total') ?? 0) >= 10);
});

t.test('entries deleted while pending raise the lost-entries alarm (XAUTOCLAIM and own re-read)', async (t) => {
  const conv = await f.open(T0 + 30_000);
  for (let i = 0; i < 3; i++) await f.send(conv.id, T0 + 30_001 + i);
  const ghost = await ghostRead('ghost-2', 2);
  const mine = await ghostRead('stable-name', 100); // a consumer that crashed, restarted with the same name below
  t.equal(ghost.length, 2);
  t.ok(mine.length >= 3);
  await f.redis.call('XTRIM', f.k.events, 'MAXLEN', '0'); // what a MAXLEN trim would do to pending entries

  const { consumer, metrics, lines } = f.consumer(t, { consumer: 'stable-name', claimIdleMs: 10, janitorMs: 60_000 });
  await waitFor(async () => (await pendingSummary(f.redis, f.k.events)).count === 2, 5000, 'own pending re-read');
  await new Promise((r) => setTimeout(r, 20));
  await consumer.janitor(f.partition);
  const text = await metrics.registry.metrics();
  t.equal(metricValue(text, 'parley_archiver_lost_entries_total'), ghost.length + mine.length, 'every lost entry counted');
  const alarms = lines.filter((l) => l['level'] === 50 && String(l['msg']).startsWith('ALARM'));
  t.same(alarms.map((l) => l['how']).sort(), ['XAUTOCLAIM', 'pending']);
  t.same((alarms.find((l) => l['how'] === 'XAUTOCLAIM')?.['ids'] as string[]).sort(), ghost.sort());
  t.equal((await pendingSummary(f.redis, f.k.events)).count, 0, 'the dangling references are gone from the PEL');
  t.equal(await messagesOf(conv.id), 0, 'those messages never reached the archive: hence the alarm');
});

t.test('Redis going back in time behind the archive (failover to a lagging replica) raises the regression alarm once', async (t) => {
  const { consumer, metrics, lines } = f.consumer(t, { janitorMs: 60_000, trim: false });
  const conv = await f.open(T0 + 35_000);
  await f.send(conv.id, T0 + 35_001);
  await f.drained(consumer);
  await consumer.janitor(f.partition);
  const alarmsOf = async () => metricValue(await metrics.registry.metrics(), 'parley_archiver_stream_regressions_total', `{partition="${f.partition}"}`) ?? 0
  t.equal(await alarmsOf(), 0, 'no alarm in normal operation')
  // the replica's copy of the partition stream, consumer group included, from before the next writes
  const replica = (await f.redis.callBuffer('DUMP', f.k.events)) as Buffer
  for (let i = 0; i < 3; i++) await f.send(conv.id, T0 + 35_010 + i);
  await f.drained(consumer);
  t.equal(await messagesOf(conv.id), 4, 'archived, checkpoint moved on');
  await f.redis.call('RESTORE', f.k.events, '0', replica, 'REPLACE'); // the failover: those writes are gone from Redis
  await consumer.janitor(f.partition);
  t.equal(await alarmsOf(), 1, 'detected')
  const alarm = lines.find((l) => l['level'] === 50 && String(l['msg']).startsWith('ALARM: the partition stream is behind'));
  t.ok(alarm !== undefined && alarm['partition'] === f.partition, 'logged as an alarm with its partition');
  await consumer.janitor(f.partition);
  t.equal(await alarmsOf(), 1, 'one alarm per event, not one per pass')
  for (let i = 0; i < 2; i++) await f.send(conv.id, T0 + 35_020 + i);
  await waitFor(async () => (await messagesOf(conv.id)) === 6, 10_000, 'new writes archived');
  await f.drained(consumer);
  t.equal(await messagesOf(conv.id), 6, 'archiving goes on: nothing twice, nothing dropped');
});

t.test('PostgreSQL refusing writes: retried with backoff, nothing acknowledged, not ready; then it catches up', async (t) => {
  const { consumer, metrics, archiving } = f.consumer(t, { batchSize: 20 });
  const conv = await f.open(T0 + 40_000);
  await f.send(conv.id, T0 + 40_001);
  await waitFor(async () => (await messagesOf(conv.id)) === 1);
  await f.sql`alter table messages rename to messages_away`;
  try {
    for (let i = 0; i < 30; i++) await f.send(conv.id, T0 + 40_002 + i);
    await waitFor(async () => archiving.includes(false), 5000, 'not ready');
    await new Promise((r) => setTimeout(r, 500));
    const pending = await pendingSummary(f.redis, f.k.events);
    t.ok(pending.count > 0 && pending.count <= 20, `the batch stays pending, unacknowledged (${pending.count})`);
    t.ok((metricValue(await metrics.registry.metrics(), 'parley_archiver_retries_total', '{stage="write"}') ?? 0) >= 2, 'retries counted');
  } finally {
    await f.sql`alter table messages_away rename to messages`;
  }
  await waitFor(async () => (await messagesOf(conv.id)) === 31, 15_000, 'catch up');
  await f.drained(consumer);
  t.equal(archiving[archiving.length - 1], true, 'ready again');
  t.equal(await messagesOf(conv.id), 31);
});
