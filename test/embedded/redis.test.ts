import t from 'tap';
import { Redis } from 'ioredis';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findRedisServer, MissingBinaryError } from '../../engine/embedded/binaries.js';
import { freePort, isPortFree, preferredOrFreePort } from '../../engine/embedded/ports.js';
import { startRedis } from '../../engine/embedded/redis.js';
import { startTestRedis } from '../helpers/stack.js';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-redis-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function client(url: string): Redis {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  t.teardown(() => redis.disconnect());
  return redis;
}

/** Running: exists and is not a zombie (an orphan's exit is reaped by pid 1, sometimes slowly). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

t.test('redis starts with AOF on, fsync everysec, no RDB saves, noeviction', async (t) => {
  const server = await startTestRedis(t);
  t.match(server.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
  const redis = client(server.url);
  t.same(await redis.config('GET', 'appendonly'), ['appendonly', 'yes']);
  t.same(await redis.config('GET', 'appendfsync'), ['appendfsync', 'everysec']);
  t.same(await redis.config('GET', 'save'), ['save', '']);
  t.same(await redis.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'noeviction']);
  t.same(await redis.config('GET', 'bind'), ['bind', '127.0.0.1']);
  t.equal(await redis.config('GET', 'dir').then((r) => (r as string[])[1]), server.dir);
});

t.test('data survives stop and start on the same dir (AOF reloaded)', async (t) => {
  const dir = await tempDir();
  const first = await startRedis({ dir, port: await freePort() });
  const a = client(first.url);
  await a.set('greeting', 'hello');
  await a.rpush('list', 'x', 'y');
  a.disconnect();
  await first.stop();
  t.notOk(alive(first.pid), 'first redis-server has exited');
  t.ok(existsSync(join(dir, 'appendonlydir')), 'AOF directory written');

  const second = await startRedis({ dir, port: await freePort() });
  t.teardown(() => second.stop());
  const b = client(second.url);
  t.equal(await b.get('greeting'), 'hello');
  t.same(await b.lrange('list', 0, -1), ['x', 'y']);
});

t.test('a second redis-server on a dir that a live one owns is refused', async (t) => {
  const dir = await tempDir();
  const first = await startRedis({ dir, port: await freePort() });
  t.teardown(() => first.stop());
  await t.rejects(startRedis({ dir, port: await freePort() }), /already running/);
  t.ok(alive(first.pid), 'the running server is untouched');
});

t.test('stop() is idempotent and leaves no process', async (t) => {
  const server = await startTestRedis(t);
  await Promise.all([server.stop(), server.stop()]);
  await server.stop();
  t.notOk(alive(server.pid));
});

t.test('redis-server does not outlive a parent killed with SIGKILL', async (t) => {
  const dir = await tempDir();
  const redisModule = new URL('../../engine/embedded/redis.js', import.meta.url).href;
  const code = `
    const { startRedis } = await import(${JSON.stringify(redisModule)});
    const server = await startRedis({ dir: ${JSON.stringify(dir)}, port: ${await freePort()} });
    console.log(server.pid);
    setInterval(() => {}, 1000);`;
  // Without tap's loaders in NODE_OPTIONS: a plain node starts ~20x faster.
  const parent = spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const [line] = (await once(parent.stdout, 'data')) as [Buffer];
  const pid = Number(line.toString().trim());
  t.ok(alive(pid), 'redis-server running');
  parent.kill('SIGKILL');
  await once(parent, 'exit');
  const deadline = Date.now() + 5000;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.notOk(alive(pid), 'redis-server stopped by its reaper');
});

t.test('a port already taken makes startup fail with the server output', async (t) => {
  const busy = await startTestRedis(t);
  const dir = await tempDir();
  await t.rejects(startRedis({ dir, port: busy.port, readyTimeoutMs: 5000 }), /in use|another/i);
});

t.test('redis log goes to logFile when given', async (t) => {
  const dir = await tempDir();
  const logFile = join(dir, 'redis.log');
  const server = await startRedis({ dir: join(dir, 'data'), port: await freePort(), logFile });
  await server.stop();
  t.ok(existsSync(logFile));
});

t.test('ports', async (t) => {
  const port = await freePort();
  t.ok(port > 0 && port < 65536);
  const server = await startTestRedis(t);
  t.equal(await isPortFree(server.port), false, 'a listening port is busy');
  t.same(await preferredOrFreePort(port), { port, preferredWasBusy: false });
  const moved = await preferredOrFreePort(server.port);
  t.equal(moved.preferredWasBusy, true);
  t.not(moved.port, server.port);
});

t.test('missing redis-server gives the exact command to run', async (t) => {
  const empty = await tempDir();
  const err = t.throws(() => findRedisServer({ path: empty, redisDirs: [] }));
  t.type(err, MissingBinaryError);
  const message = (err as Error).message;
  t.match(message, /redis-server not found/);
  t.match(message, /`npm run setup` \(as root\)/);
  t.match(message, /`sudo apt-get install -y redis-server postgresql`/);
  t.match(message, empty, 'names where it looked');
});

t.test('redis-server is found on PATH first, then in the fixed dirs', async (t) => {
  const onPath = await tempDir();
  const fallback = await tempDir();
  for (const dir of [onPath, fallback]) {
    await writeFile(join(dir, 'redis-server'), '#!/bin/sh\n');
    await chmod(join(dir, 'redis-server'), 0o755);
  }
  const notExecutable = await tempDir();
  await writeFile(join(notExecutable, 'redis-server'), '');
  await mkdir(join(notExecutable, 'sub'));
  t.equal(findRedisServer({ path: `${notExecutable}:${onPath}`, redisDirs: [fallback] }), join(onPath, 'redis-server'));
  t.equal(findRedisServer({ path: notExecutable, redisDirs: [fallback] }), join(fallback, 'redis-server'));
});
