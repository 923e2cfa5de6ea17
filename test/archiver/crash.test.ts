// The archiver process (dist/archiver/main.js) killed with SIGKILL in the middle of its work and
// started again: every message is archived exactly once, whether the new process has the same
// consumer name (it re-reads its own pending entries) or a new one (it claims the dead one's).
import t from 'tap';
import { GROUP, pendingSummary } from '../../archiver/streams.js';
import { archiveFixture, metricValue, PARTITIONS, waitFor } from './fixture.js';
import { freePort, get, pollUntil, runArchiver } from './proc.js';

const f = await archiveFixture(t);
const T0 = Date.UTC(2024, 5, 1, 9, 0, 0);

async function start(owner: { teardown(fn: () => unknown): void }, env: Record<string, string>) {
  const port = await freePort();
  const proc = runArchiver('main', {
    DATABASE_URL: f.pg.url,
    REDIS_URL: f.redisServer.url,
    ARCHIVER_PORT: String(port),
    PARTITIONS: String(PARTITIONS),
    BATCH_SIZE: '20',
    BATCH_MS: '50',
    ARCHIVER_JANITOR_MS: '200',
    ARCHIVER_CLAIM_IDLE_MS: '500',
    LOG_LEVEL: 'info',
    ...env,
  });
  owner.teardown(async () => {
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
  });
  return { proc, base: `http://127.0.0.1:${port}` };
}

async function sendMany(convId: string, n: number, at: number): Promise<void> {
  for (let i = 0; i < n; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, n - i) }, (_, j) => f.send(convId, at + i + j)));
  }
}

/**
 * Holds the archiver inside a batch (its INSERT waits on a lock the test holds), so the kill lands
 * after XREADGROUP and before COMMIT (and XACK), every time; then SIGKILL. Returns how many entries
 * were delivered and not acknowledged at the kill.
 */
async function killMidBatch(t: { same(a: unknown, b: unknown): void }, proc: ReturnType<typeof runArchiver>): Promise<number> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const locked = new Promise<void>((resolve, reject) => {
    f.sql.begin(async (tx) => {
      await tx`lock table messages in exclusive mode`;
      resolve();
      await released;
    }).catch(reject);
  });
  await locked;
  await waitFor(async () => {
    const [w] = await f.sql`select count(*)::int as n from pg_locks where not granted`;
    return (w?.['n'] as number) > 0;
  }, 10_000, 'the archiver to wait inside its transaction');
  const heldAtKill = (await pendingSummary(f.redis, f.k.events)).count;
  proc.child.kill('SIGKILL');
  t.same(await proc.exited, { code: null, signal: 'SIGKILL' });
  release();
  return heldAtKill;
}

const archived = (convId: string) => f.count('messages', f.sql`conversation_id = ${convId}`);

for (const how of ['the same consumer name', 'a new consumer name'] as const) {
  t.test(`SIGKILL mid-stream, restarted with ${how}: exactly N rows`, async (t) => {
    const N = 1500;
    const conv = await f.open(T0);
    await sendMany(conv.id, N, T0 + 1);
    const name = `arch-${how === 'a new consumer name' ? 'a' : 'same'}`;

    const first = await start(t, { ARCHIVER_CONSUMER: name });
    const atKill = await waitFor(async () => {
      const n = await archived(conv.id);
      return n > 0 ? n : false;
    }, 20_000, 'the first rows');
    const heldAtKill = await killMidBatch(t, first.proc);
    t.ok(atKill < N, `killed part way (${atKill} of ${N} archived)`);
    t.ok(heldAtKill > 0, `mid-batch: ${heldAtKill} entries delivered and not acknowledged`);

    const second = await start(t, how === 'a new consumer name' ? { ARCHIVER_CONSUMER: 'arch-b' } : { ARCHIVER_CONSUMER: name });
    await waitFor(async () => (await archived(conv.id)) === N, 25_000, 'every row after the restart');
    await waitFor(async () => (await pendingSummary(f.redis, f.k.events)).count === 0, 10_000, 'nothing pending');
    t.equal(await archived(conv.id), N, 'exactly N');
    const [d] = await f.sql`
      select count(distinct uid)::int as uids, count(distinct stream_id)::int as ids from messages where conversation_id = ${conv.id}`;
    t.same(d, { uids: N, ids: N }, 'no duplicate');
    if (how === 'a new consumer name') {
      const text = (await pollUntil(`${second.base}/metrics`, (r) => r.status === 200)).body;
      t.ok((metricValue(text, 'parley_archiver_claimed_entries_total') ?? 0) > 0, 'the dead consumer\'s entries were claimed');
    }
    t.equal((await get(`${second.base}/readyz`)).status, 200);
    second.proc.child.kill('SIGTERM');
    t.same(await second.proc.exited, { code: 0, signal: null }, 'a clean stop');
    const consumers = (await f.redis.call('XINFO', 'CONSUMERS', f.k.events, GROUP)) as unknown[];
    t.ok(Array.isArray(consumers), 'the group survives');
  });
}

// issue 10, item 6: a restarted archiver takes over its own pending entries at once. Defaults only
// (no ARCHIVER_CONSUMER, ARCHIVER_CLAIM_IDLE_MS 60 s): the restart must finish the archive by
// re-reading its own pending entries, never by claiming them from "a stalled consumer".
t.test('SIGKILL and restart with the default consumer name: the restart archives the rest at once', async (t) => {
  const N = 1500;
  const conv = await f.open(T0);
  await sendMany(conv.id, N, T0 + 1);
  const defaults = { ARCHIVER_CLAIM_IDLE_MS: '60000', ARCHIVER_JANITOR_MS: '5000' };
  const first = await start(t, defaults);
  const held = await first.proc.waitForLog((l) => l['msg'] === 'consumer name held');
  t.match(held, { consumer: /^archiver@/, stable: true }, 'the default name is derived from the host');
  await waitFor(async () => ((await archived(conv.id)) > 0 ? true : false), 20_000, 'the first rows');
  const heldAtKill = await killMidBatch(t, first.proc);
  const killedAt = Date.now();
  t.ok(heldAtKill > 0, `mid-batch: ${heldAtKill} entries delivered and not acknowledged`);
  t.ok((await archived(conv.id)) < N, 'killed part way');

  const second = await start(t, defaults);
  // well inside the 60 s claim window: only the own-pending path can finish the archive
  await waitFor(async () => (await archived(conv.id)) === N, 20_000, 'every row after the restart');
  const tookMs = Date.now() - killedAt;
  await waitFor(async () => (await pendingSummary(f.redis, f.k.events)).count === 0, 10_000, 'nothing pending');
  t.comment(`kill -9 to a complete archive: ${tookMs} ms (lease ${2000} ms)`);
  const again = second.proc.logs().find((l) => l['msg'] === 'consumer name held');
  t.equal(again?.['consumer'], held['consumer'], 'the restart came back under the same name');
  const text = (await pollUntil(`${second.base}/metrics`, (r) => r.status === 200)).body;
  t.equal(metricValue(text, 'parley_archiver_claimed_entries_total') ?? 0, 0, 'nothing was claimed: its own pending entries were re-read');
  const [d] = await f.sql`
    select count(*)::int as n, count(distinct uid)::int as uids from messages where conversation_id = ${conv.id}`;
  t.same(d, { n: N, uids: N }, 'exactly N, no duplicate');
  second.proc.child.kill('SIGTERM');
  t.same(await second.proc.exited, { code: 0, signal: null });
});

t.test('two archivers started at once with the same ARCHIVER_CONSUMER never share the name', async (t) => {
  const N = 600;
  const conv = await f.open(T0);
  const a = await start(t, { ARCHIVER_CONSUMER: 'twin' });
  const b = await start(t, { ARCHIVER_CONSUMER: 'twin' });
  const names = await Promise.all([a, b].map(async (x) => (await x.proc.waitForLog((l) => l['msg'] === 'consumer name held'))['consumer']));
  t.equal(names.filter((n) => n === 'twin').length, 1, `one holds the name: ${names.join(', ')}`);
  t.match(names.find((n) => n !== 'twin'), /^twin-\d+-[0-9a-f]{6}$/, 'the other took a unique one');
  await sendMany(conv.id, N, T0 + 1);
  await waitFor(async () => (await archived(conv.id)) === N, 20_000, 'every row');
  const [d] = await f.sql`
    select count(*)::int as n, count(distinct uid)::int as uids from messages where conversation_id = ${conv.id}`;
  t.same(d, { n: N, uids: N }, 'exactly N');
  for (const x of [a, b]) {
    x.proc.child.kill('SIGTERM');
    t.same(await x.proc.exited, { code: 0, signal: null });
  }
  t.equal(await f.redis.exists('{archiver}:consumer:twin'), 0, 'a clean stop frees the name');
});
