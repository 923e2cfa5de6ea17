import t from 'tap';
import { startTestPostgres, startTestRedis } from '../helpers/stack.js';
import { freePort, get, pollUntil, runArchiver } from './proc.js';

const redis = await startTestRedis(t);

function start(databaseUrl: string, port: number) {
  const proc = runArchiver('main', {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    ARCHIVER_PORT: String(port),
    LOG_LEVEL: 'info',
  });
  t.teardown(async () => {
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
  });
  return proc;
}

t.test('ready with Redis and PostgreSQL up; 503 once PostgreSQL stops; SIGTERM exits 0', async (t) => {
  const pg = await startTestPostgres(t);
  const port = await freePort();
  const proc = start(pg.url, port);
  const base = `http://127.0.0.1:${port}`;

  const listening = await proc.waitForLog((l) => l['port'] === port);
  t.match(listening['msg'], /listening on port/, 'one line says where it listens');

  const ready = await pollUntil(`${base}/readyz`, (r) => r.status === 200);
  t.same(JSON.parse(ready.body), { redis: true, postgres: true, migrated: true, archiving: true });
  t.same(await get(`${base}/healthz`), { status: 200, body: '{"status":"ok"}' });
  t.ok(proc.logs().some((l) => l['msg'] === 'migrations applied'), 'migrated on start');

  const metrics = await get(`${base}/metrics`);
  t.equal(metrics.status, 200);
  t.match(metrics.body, /^parley_archiver_up 1$/m);
  t.match(metrics.body, /process_cpu_user_seconds_total/, 'default metrics are registered');
  t.equal((await get(`${base}/nope`)).status, 404);

  await pg.stop();
  const down = await pollUntil(`${base}/readyz`, (r) => r.status === 503 && !JSON.parse(r.body).postgres);
  t.match(JSON.parse(down.body), { redis: true, postgres: false, migrated: true });
  t.equal((await get(`${base}/healthz`)).status, 200, 'still alive');

  proc.child.kill('SIGTERM');
  t.same(await proc.exited, { code: 0, signal: null });
});

t.test('unreachable PostgreSQL: alive, not ready, retrying; password never logged', async (t) => {
  const port = await freePort();
  const nobody = await freePort();
  const proc = start(`postgres://parley:s3cr3t-pw@127.0.0.1:${nobody}/parley`, port);
  const base = `http://127.0.0.1:${port}`;
  await proc.waitForLog((l) => l['msg'] === 'postgres unreachable; retrying migrations');
  // Redis may still be connecting right after start: wait until it answers, PostgreSQL never will.
  const reply = await pollUntil(`${base}/readyz`, (r) => r.status === 503 && JSON.parse(r.body).redis === true);
  t.same(JSON.parse(reply.body), { redis: true, postgres: false, migrated: false, archiving: true });
  t.equal((await get(`${base}/healthz`)).status, 200);
  proc.child.kill('SIGTERM');
  t.same(await proc.exited, { code: 0, signal: null });
  t.notMatch(proc.stdout() + proc.stderr(), /s3cr3t-pw/);
  t.match(proc.stdout(), /postgres:\/\/parley:\*\*\*@127\.0\.0\.1/, 'the URL is logged masked');
});

t.test('bad configuration: every error printed, exit 2', async (t) => {
  const proc = runArchiver('main', { DATABASE_URL: 'postgres://u:pw@db/x', PARTITIONS: '0', LOG_LEVEL: 'loud' });
  t.same(await proc.exited, { code: 2, signal: null });
  const err = proc.stderr();
  t.match(err, /REDIS_URL is required/);
  t.match(err, /PARTITIONS must be between 1 and 1024/);
  t.match(err, /LOG_LEVEL must be one of/);
});
