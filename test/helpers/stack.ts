// Real redis-server and postgres processes for tests: each on a free port in
// its own temp folder, stopped and removed by t.teardown. PostgreSQL clusters
// are copied from a template made by initdb once per machine and version.
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPostgres, postgresVersion } from '../../engine/embedded/binaries.js';
import { freePort } from '../../engine/embedded/ports.js';
import { prepareDataDir, startPostgres, type PgSettings } from '../../engine/embedded/postgres.js';
import { startRedis, type RedisServer } from '../../engine/embedded/redis.js';

/** The part of a tap Test this helper needs. */
export type TeardownHost = { teardown(fn: () => unknown): void };

export type TestRedis = { url: string; port: number; pid: number; dir: string; stop(): Promise<void> };
export type TestPostgres = { url: string; port: number; pid: number; dataDir: string; stop(): Promise<void> };

/** Durability off, small footprint: throwaway clusters only. */
export const TEST_PG_SETTINGS: PgSettings = {
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  shared_buffers: '16MB',
  max_connections: 40,
};

/** A fresh temp folder the unprivileged postgres user can traverse (mkdtemp makes 0700). */
async function tempFolder(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  return dir;
}

/** Another process can bind a port between freePort() and the server: retry on a new one. */
async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      if (attempt >= 3 || !/in use|another/i.test((err as Error).message)) throw err;
    }
  }
}

/**
 * A redis-server with AOF on its own data folder that a test kills with SIGKILL (`crash`) and
 * starts again on the same port and data (`restart`), as a real Redis crash and restart.
 */
export type CrashableRedis = { readonly url: string; readonly pid: number; crash(): Promise<void>; restart(): Promise<void> };

export async function startCrashableRedis(t: TeardownHost): Promise<CrashableRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-crash-redis-'));
  const port = await freePort();
  let server: RedisServer = await startRedis({ dir, port });
  t.teardown(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return {
    url: server.url,
    get pid() { return server.pid; },
    async crash() {
      process.kill(server.pid, 'SIGKILL');
      await server.exited;
    },
    async restart() {
      server = await startRedis({ dir, port });
    },
  };
}

export async function startTestRedis(t: TeardownHost): Promise<TestRedis> {
  const dir = await tempFolder('parley-redis-');
  let server: TestRedis | undefined;
  t.teardown(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  // One subfolder per attempt: a failed attempt may leave files behind.
  server = await onFreePort((port) => startRedis({ dir: join(dir, `p${port}`), port }));
  return server;
}

export function pgTemplatePath(): string {
  const version = postgresVersion(findPostgres().postgres);
  // Keyed by what makes templates incompatible: server version, owner, initdb args.
  return join(tmpdir(), `parley-pg-template-${version}-u${process.getuid?.() ?? 0}-seg1`);
}

let template: Promise<{ path: string; created: boolean }> | undefined;

async function buildTemplate(): Promise<{ path: string; created: boolean }> {
  const path = pgTemplatePath();
  if (existsSync(join(path, 'PG_VERSION'))) return { path, created: false };
  // initdb under a unique name, then rename: the template appears whole or not
  // at all, and when two test files race, the loser's rename fails and it uses
  // the winner's.
  const work = await tempFolder(`parley-pg-template-build-`);
  try {
    // 1 MB WAL segments instead of 16: every test copies the template, WAL included.
    const built = await prepareDataDir({ dir: join(work, 'data'), initdbArgs: ['--wal-segsize=1'] });
    try {
      await rename(built.dataDir, path);
      return { path, created: true };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && existsSync(join(path, 'PG_VERSION'))) {
        return { path, created: false };
      }
      throw err;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The shared initdb template (made on first use); `created` says whether this call made it. */
export async function ensurePgTemplate(): Promise<{ path: string; created: boolean }> {
  const first = template === undefined;
  template ??= buildTemplate().catch((err: unknown) => {
    template = undefined;
    throw err;
  });
  const made = await template;
  return first ? made : { path: made.path, created: false };
}

export async function startTestPostgres(
  t: TeardownHost,
  opts: { settings?: PgSettings } = {},
): Promise<TestPostgres> {
  const { path } = await ensurePgTemplate();
  const dir = await tempFolder('parley-pg-');
  let server: TestPostgres | undefined;
  t.teardown(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  server = await onFreePort((port) =>
    startPostgres({
      dir: join(dir, `p${port}`),
      port,
      template: path,
      settings: { ...TEST_PG_SETTINGS, ...opts.settings },
    }),
  );
  return server;
}
