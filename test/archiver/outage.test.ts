// PostgreSQL stops while the engine keeps writing into Redis: the archiver process stays alive,
// answers 503 on /readyz, retries (counted), acknowledges and trims nothing it has not committed;
// PostgreSQL comes back on the same data dir and port and the archive catches up, nothing lost.
import t from 'tap';
import { pendingSummary } from '../../archiver/streams.js';
import { startPostgres } from '../../engine/embedded/postgres.js';
import { startTestPostgres, TEST_PG_SETTINGS } from '../helpers/stack.js';
import { archiveFixture, metricValue, PARTITIONS, waitFor } from './fixture.js';
import { freePort, get, pollUntil, runArchiver } from './proc.js';

const pg = await startTestPostgres(t);
const f = await archiveFixture(t, { pg });
const T0 = Date.UTC(2024, 6, 1, 9, 0, 0);

t.test('PostgreSQL down and back: not ready meanwhile, then every message archived once', async (t) => {
  const port = await freePort();
  const proc = runArchiver('main', {
    DATABASE_URL: pg.url,
    REDIS_URL: f.redisServer.url,
    ARCHIVER_PORT: String(port),
    PARTITIONS: String(PARTITIONS),
    BATCH_SIZE: '50',
    BATCH_MS: '50',
    ARCHIVER_JANITOR_MS: '100',
    LOG_LEVEL: 'info',
  });
  t.teardown(async () => {
    if (t.passing() === false) t.comment(`archiver output:\n${proc.stdout().slice(-6000)}\n${proc.stderr().slice(-3000)}`);
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
  });
  const base = `http://127.0.0.1:${port}`;
  const archived = (convId: string) => f.count('messages', f.sql`conversation_id = ${convId}`);

  const conv = await f.open(T0);
  for (let i = 0; i < 100; i++) await f.send(conv.id, T0 + 1 + i);
  await waitFor(async () => (await archived(conv.id)) === 100, 15_000, 'the first 100');
  await pollUntil(`${base}/readyz`, (r) => r.status === 200);

  await pg.stop();
  for (let i = 100; i < 300; i++) await f.send(conv.id, T0 + 1 + i); // Redis keeps taking messages
  const down = await pollUntil(`${base}/readyz`, (r) => r.status === 503, 20_000);
  t.match(JSON.parse(down.body), { redis: true, postgres: false });
  const metrics = await pollUntil(`${base}/metrics`, (r) =>
    (metricValue(r.body, 'parley_archiver_retries_total', '{stage="write"}') ?? 0) >= 2 &&
    (metricValue(r.body, 'parley_archiver_lag_ms', `{partition="${f.partition}"}`) ?? 0) > 0, 20_000);
  t.ok((metricValue(metrics.body, 'parley_archiver_pending_entries', `{partition="${f.partition}"}`) ?? 0) > 0, 'pending entries shown');
  t.ok((metricValue(metrics.body, 'parley_archiver_redis_used_memory_bytes') ?? 0) > 0, 'Redis memory shown');
  t.ok(proc.logs().some((l) => l['msg'] === 'postgres unavailable; retrying the batch, nothing acknowledged meanwhile'));
  const pending = await pendingSummary(f.redis, f.k.events);
  t.ok(pending.count > 0, `the batch in flight stays pending (${pending.count})`);
  await new Promise((r) => setTimeout(r, 300)); // janitor passes while PostgreSQL is down
  t.ok((await f.redis.xlen(f.k.events)) >= 200, 'nothing unarchived was trimmed');
  t.equal((await get(`${base}/healthz`)).status, 200, 'alive');

  const again = await startPostgres({ dir: pg.dataDir, port: pg.port, settings: TEST_PG_SETTINGS, log: () => {} });
  t.teardown(() => again.stop());
  t.equal(again.origin, 'existing', 'the same data dir');
  await waitFor(async () => (await archived(conv.id)) === 300, 20_000, 'the catch-up');
  await waitFor(async () => (await pendingSummary(f.redis, f.k.events)).count === 0, 10_000, 'everything acknowledged');
  const [d] = await f.sql`select count(*)::int as n, count(distinct uid)::int as uids from messages where conversation_id = ${conv.id}`;
  t.same(d, { n: 300, uids: 300 }, 'nothing lost, nothing twice');
  const ready = await pollUntil(`${base}/readyz`, (r) => r.status === 200, 10_000);
  t.same(JSON.parse(ready.body), { redis: true, postgres: true, migrated: true, archiving: true });
  t.ok(proc.logs().some((l) => l['msg'] === 'batch committed after retries'));
  const caught = await pollUntil(`${base}/metrics`, (r) => metricValue(r.body, 'parley_archiver_lag_ms', `{partition="${f.partition}"}`) === 0, 10_000);
  t.ok((metricValue(caught.body, 'parley_archiver_rows_total', '{table="messages"}') ?? 0) >= 200, 'rows counted');
  await waitFor(async () => (await f.redis.xlen(f.k.events)) < 10, 5000, 'trimmed once archived');

  proc.child.kill('SIGTERM');
  t.same(await proc.exited, { code: 0, signal: null });
});
