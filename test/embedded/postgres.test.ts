import t from 'tap';
import postgres from 'postgres';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPostgres, MissingBinaryError } from '../../engine/embedded/binaries.js';
import { freePort } from '../../engine/embedded/ports.js';
import { canReach, passwdUser, postgresRunAs } from '../../engine/embedded/pg-user.js';
import { relocatedDataDir, startPostgres } from '../../engine/embedded/postgres.js';
import { ensurePgTemplate, startTestPostgres, TEST_PG_SETTINGS } from '../helpers/stack.js';

const isRoot = process.getuid?.() === 0;

async function tempDir(mode = 0o755): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-pg-test-'));
  await chmod(dir, mode);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function connect(url: string): postgres.Sql {
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  t.teardown(() => sql.end({ timeout: 1 }));
  return sql;
}

async function processUid(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

t.test('postgres accepts queries, with the test settings, as a non-root user', async (t) => {
  const pg = await startTestPostgres(t);
  t.match(pg.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
  const sql = connect(pg.url);
  const [row] = await sql<{ dir: string; user: string; fsync: string; max: string }[]>`
    select current_setting('data_directory') as dir, current_user as user,
           current_setting('fsync') as fsync, current_setting('max_connections') as max`;
  t.equal(row?.dir, pg.dataDir);
  t.equal(row?.user, 'postgres');
  t.equal(row?.fsync, 'off');
  t.equal(row?.max, String(TEST_PG_SETTINGS.max_connections));
  const [enc] = await sql<{ server_encoding: string }[]>`show server_encoding`;
  t.equal(enc?.server_encoding, 'UTF8');
  const uid = await processUid(pg.pid);
  if (isRoot) {
    t.not(uid, 0, 'postmaster does not run as root');
    t.equal(uid, postgresRunAs()?.uid);
    t.equal((await stat(pg.dataDir)).uid, uid, 'data dir owned by the postgres user');
  } else {
    t.equal(uid, process.getuid?.());
  }
});

t.test('a cluster survives stop and start on the same dir', async (t) => {
  const { path: template } = await ensurePgTemplate();
  const dir = join(await tempDir(), 'data');
  const first = await startPostgres({ dir, port: await freePort(), template, settings: TEST_PG_SETTINGS });
  t.equal(first.origin, 'template', 'empty dir filled from the template');
  t.equal(first.relocated, false);
  const a = postgres(first.url, { max: 1, onnotice: () => {} });
  await a`create table kept (id int primary key, body text)`;
  await a`insert into kept values (1, 'héllo')`;
  await a.end();
  await first.stop();
  t.notOk(alive(first.pid), 'first postmaster has exited');

  const second = await startPostgres({ dir, port: await freePort(), template, settings: TEST_PG_SETTINGS });
  t.teardown(() => second.stop());
  t.equal(second.origin, 'existing');
  const b = connect(second.url);
  t.same(await b`select id, body from kept`, [{ id: 1, body: 'héllo' }]);
});

t.test('the initdb template is made once and reused', async (t) => {
  const first = await ensurePgTemplate();
  const inode = (await stat(first.path)).ino;
  const again = await ensurePgTemplate();
  t.equal(again.path, first.path);
  t.equal(again.created, false, 'second call does not run initdb');
  t.match(first.path, /parley-pg-template-\d+/);
  const pg = await startTestPostgres(t);
  t.equal((await stat(first.path)).ino, inode, 'template dir untouched by a start');
  t.not(pg.dataDir, first.path, 'each start runs on its own copy');
});

t.test('without a template, initdb creates the cluster', async (t) => {
  const dir = join(await tempDir(), 'fresh');
  const pg = await startPostgres({ dir, port: await freePort(), settings: TEST_PG_SETTINGS });
  t.teardown(() => pg.stop());
  t.equal(pg.origin, 'initdb');
  const sql = connect(pg.url);
  t.same(await sql`select 1 as one`, [{ one: 1 }]);
});

t.test('a non-empty dir that is not a cluster is refused', async (t) => {
  const dir = await tempDir();
  await writeFile(join(dir, 'stray.txt'), 'x');
  await t.rejects(startPostgres({ dir, port: await freePort() }), /neither empty nor a PostgreSQL data dir/);
});

t.test('a dir the postgres user cannot reach is relocated under tmpdir', { skip: !isRoot && 'needs root' }, async (t) => {
  const locked = await tempDir(0o700); // root-only, like a repo under /root
  const dir = join(locked, 'repo', '.data', 'postgres');
  const fallback = relocatedDataDir(dir);
  t.teardown(() => rm(fallback, { recursive: true, force: true }));
  const { path: template } = await ensurePgTemplate();
  const logs: string[] = [];
  const pg = await startPostgres({
    dir,
    port: await freePort(),
    template,
    settings: TEST_PG_SETTINGS,
    log: (m) => logs.push(m),
  });
  t.teardown(() => pg.stop());
  t.equal(pg.relocated, true);
  t.equal(pg.dataDir, fallback);
  t.match(logs.join('\n'), /cannot reach .* using data dir/);
  const sql = connect(pg.url);
  const [row] = await sql<{ dir: string }[]>`select current_setting('data_directory') as dir`;
  t.equal(row?.dir, fallback);
});

t.test('unprivileged user lookup and reachability', async (t) => {
  const dir = await tempDir();
  const passwd = join(dir, 'passwd');
  await writeFile(passwd, 'root:x:0:0::/root:/bin/bash\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n');
  t.same(passwdUser('nobody', passwd), { name: 'nobody', uid: 65534, gid: 65534 });
  t.equal(passwdUser('postgres', passwd), undefined);
  const nobody = { name: 'nobody', uid: 65534, gid: 65534 };
  const closed = join(dir, 'closed');
  await mkdir(closed, { mode: 0o700 });
  await chmod(closed, 0o700);
  t.equal(canReach(join(dir, 'a', 'b'), nobody), true, 'missing ancestors do not block');
  t.equal(canReach(join(closed, 'data'), nobody), false);
  t.equal(canReach(join(closed, 'x', 'data'), nobody), false);
});

t.test('missing postgres gives the exact command to run', async (t) => {
  const empty = await tempDir();
  const err = t.throws(() => findPostgres({ path: empty, pgLibRoot: empty }));
  t.type(err, MissingBinaryError);
  const message = (err as Error).message;
  t.match(message, /postgres\/initdb not found/);
  t.match(message, /`npm run setup` \(as root\)/);
  t.match(message, /`sudo apt-get install -y redis-server postgresql`/);
});

t.test('postgres binaries: PATH first, else the highest /usr/lib/postgresql version', async (t) => {
  const root = await tempDir();
  for (const version of ['9.6', '13', '15', 'common']) {
    const bin = join(root, version, 'bin');
    await mkdir(bin, { recursive: true });
    for (const name of ['postgres', 'initdb']) {
      await writeFile(join(bin, name), '#!/bin/sh\n');
      await chmod(join(bin, name), 0o755);
    }
  }
  const onlyPostgres = join(root, 'half');
  await mkdir(onlyPostgres);
  await writeFile(join(onlyPostgres, 'postgres'), '#!/bin/sh\n');
  await chmod(join(onlyPostgres, 'postgres'), 0o755);
  const found = findPostgres({ path: onlyPostgres, pgLibRoot: root });
  t.equal(found.binDir, join(root, '15', 'bin'), '15 beats 13 and 9.6; a dir without initdb is skipped');
  t.equal(found.initdb, join(root, '15', 'bin', 'initdb'));
  t.equal(findPostgres({ path: join(root, '9.6', 'bin'), pgLibRoot: root }).binDir, join(root, '9.6', 'bin'));
});
