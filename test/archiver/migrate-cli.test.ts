import t from 'tap';
import { startTestPostgres } from '../helpers/stack.js';
import { freePort, runArchiver } from './proc.js';

t.test('missing DATABASE_URL: clear message, exit 2', async (t) => {
  const proc = runArchiver('migrate-cli', {});
  t.same(await proc.exited, { code: 2, signal: null });
  t.match(proc.stderr(), /DATABASE_URL is required/);
});

t.test('applies pending migrations, then nothing, exit 0', async (t) => {
  const pg = await startTestPostgres(t);
  const first = runArchiver('migrate-cli', { DATABASE_URL: pg.url });
  t.same(await first.exited, { code: 0, signal: null }, first.stderr());
  t.ok(first.logs().some((l) => Array.isArray(l['applied']) && (l['applied'] as string[]).includes('00001_init')));
  const second = runArchiver('migrate-cli', { DATABASE_URL: pg.url });
  t.same(await second.exited, { code: 0, signal: null });
  t.ok(second.logs().some((l) => l['msg'] === 'schema up to date'));
});

t.test('unreachable database: non-zero exit, message without the password', async (t) => {
  const port = await freePort();
  const proc = runArchiver('migrate-cli', { DATABASE_URL: `postgres://u:s3cr3t-pw@127.0.0.1:${port}/x` });
  t.same(await proc.exited, { code: 1, signal: null });
  t.match(proc.stderr(), /failed: .*ECONNREFUSED|failed:/);
  t.notMatch(proc.stdout() + proc.stderr(), /s3cr3t-pw/);
});
