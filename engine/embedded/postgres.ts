// Runs a local PostgreSQL on 127.0.0.1 (TCP only, no unix socket) with trust
// auth for the `postgres` superuser. The data dir is created by initdb on first
// run, or copied from a template data dir (much faster), and reused afterwards.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, constants, copyFile, mkdir, readdir, stat } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import postgres from 'postgres';
import { findPostgres } from './binaries.js';
import { describeExit, sleep, spawnManaged, type ExitInfo } from './child.js';
import { canReach, chownTree, postgresRunAs, type RunAs } from './pg-user.js';

export type PgSettings = Readonly<Record<string, string | number>>;

export type StartPostgresOptions = {
  dir: string;
  port: number;
  /** A data dir made by initdb, copied into `dir` when `dir` is empty. */
  template?: string;
  /** Extra `-c name=value` settings. */
  settings?: PgSettings;
  /** Server output is appended here (it is always kept in memory for errors). */
  logFile?: string;
  log?: (message: string) => void;
  readyTimeoutMs?: number;
};

export type DataDirOrigin = 'initdb' | 'template' | 'existing';

export type PostgresServer = {
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust auth, no secret). */
  url: string;
  port: number;
  pid: number;
  /** Where the cluster really lives: `dir`, or a tmpdir fallback when relocated. */
  dataDir: string;
  /** True when `dir` was unreachable for the unprivileged user and dataDir is a fallback. */
  relocated: boolean;
  origin: DataDirOrigin;
  /** The OS user postgres runs as. */
  user: string;
  /** Settles when the server process exits, for whatever reason. */
  exited: Promise<ExitInfo>;
  stop(): Promise<void>;
};

const defaultLog = (message: string): void => {
  process.stderr.write(`${message}\n`);
};

/** The fallback data dir for `dir`: stable per requested path, so restarts reuse it. */
export function relocatedDataDir(dir: string): string {
  const key = createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 16);
  return join(tmpdir(), `parley-pg-${key}`);
}

function initdbLocale(): string {
  // C.UTF-8 classifies non-ASCII letters for full-text search; plain C does not.
  return existsSync('/usr/lib/locale/C.utf8') ? 'C.UTF-8' : 'C';
}

/** Runs initdb into `dataDir` (absent or empty), as `runAs` when given. */
export async function initdb(
  dataDir: string,
  runAs: RunAs | undefined,
  extraArgs: readonly string[] = [],
): Promise<void> {
  const bins = findPostgres();
  const child = spawnManaged({
    name: 'initdb',
    command: bins.initdb,
    args: ['-D', dataDir, '--auth=trust', '-U', 'postgres', '-E', 'UTF8', `--locale=${initdbLocale()}`, '--no-sync', ...extraArgs],
    stopSignal: 'SIGTERM',
    stopTimeoutMs: 5_000,
    output: 'capture',
    ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
  });
  const info = await child.exited;
  if (info.code !== 0) {
    throw new Error(`initdb -D ${dataDir} ${describeExit(info)}\n${child.tail()}`);
  }
}

/** Copies a data dir tree, many files at a time (fs.cp copies one by one: ~3x slower). */
async function copyTree(from: string, to: string): Promise<void> {
  const entries = await readdir(from, { recursive: true, withFileTypes: true });
  const rel = (e: { parentPath: string; name: string }): string => join(e.parentPath, e.name).slice(from.length + 1);
  const dirs = entries.filter((e) => e.isDirectory()).map(rel).sort();
  for (const dir of dirs) await mkdir(join(to, dir), { recursive: true, mode: 0o700 });
  const files = entries.filter((e) => e.isFile()).map(rel);
  for (let i = 0; i < files.length; i += 64) {
    await Promise.all(
      files.slice(i, i + 64).map((f) => copyFile(join(from, f), join(to, f), constants.COPYFILE_FICLONE)),
    );
  }
}

async function isEmptyDir(dir: string): Promise<boolean> {
  return (await readdir(dir)).length === 0;
}

/** Picks the real data dir, creates it (initdb or template copy) and fixes its ownership. */
export async function prepareDataDir(
  opts: Pick<StartPostgresOptions, 'dir' | 'template' | 'log'> & { initdbArgs?: readonly string[] },
): Promise<{ dataDir: string; relocated: boolean; origin: DataDirOrigin; runAs: RunAs | undefined }> {
  const log = opts.log ?? defaultLog;
  const runAs = postgresRunAs();
  let dataDir = resolve(opts.dir);
  let relocated = false;
  if (runAs && !canReach(dataDir, runAs)) {
    const fallback = relocatedDataDir(dataDir);
    if (!canReach(fallback, runAs)) {
      throw new Error(`user ${runAs.name} can reach neither ${dataDir} nor ${fallback}`);
    }
    log(
      `postgres runs as ${runAs.name}, which cannot reach ${dataDir}; ` +
        `using data dir ${fallback} instead`,
    );
    dataDir = fallback;
    relocated = true;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  let origin: DataDirOrigin = 'existing';
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    if (!(await isEmptyDir(dataDir))) {
      throw new Error(`${dataDir} is neither empty nor a PostgreSQL data dir (no PG_VERSION)`);
    }
    if (opts.template && existsSync(join(opts.template, 'PG_VERSION'))) {
      await copyTree(resolve(opts.template), dataDir);
      origin = 'template';
    } else {
      if (runAs) await chownTree(dataDir, runAs.uid, runAs.gid);
      await initdb(dataDir, runAs, opts.initdbArgs);
      origin = 'initdb';
    }
  }
  await chmod(dataDir, 0o700);
  if (runAs && (origin === 'template' || (await stat(dataDir)).uid !== runAs.uid)) {
    await chownTree(dataDir, runAs.uid, runAs.gid);
  }
  return { dataDir, relocated, origin, runAs };
}

/** undefined once the server on `url` answers a query and serves `dataDir`. */
async function notReadyReason(url: string, dataDir: string): Promise<string | undefined> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    const [row] = await sql<{ dir: string }[]>`select current_setting('data_directory') as dir`;
    // Another server may have taken the port between choosing it and binding it.
    if (row?.dir !== dataDir) return `port serves another cluster (${row?.dir ?? '?'})`;
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

export async function startPostgres(opts: StartPostgresOptions): Promise<PostgresServer> {
  const bins = findPostgres();
  const { dataDir, relocated, origin, runAs } = await prepareDataDir(opts);
  const settings: Record<string, string | number> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    ...opts.settings,
  };
  const args = ['-D', dataDir, '-p', String(opts.port)];
  for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);
  const child = spawnManaged({
    name: 'postgres',
    command: bins.postgres,
    args,
    stopSignal: 'SIGINT', // fast shutdown: roll back sessions, checkpoint, exit
    stopTimeoutMs: 30_000,
    output: 'capture',
    ...(opts.logFile ? { logFile: resolve(opts.logFile) } : {}),
    ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
  });

  const url = `postgres://postgres@127.0.0.1:${opts.port}/postgres`;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (child.hasExited()) {
      const info = await child.exited;
      throw new Error(`postgres -D ${dataDir} -p ${opts.port} ${describeExit(info)}\n${child.tail()}`);
    }
    const error = await notReadyReason(url, dataDir);
    if (error === undefined) break;
    if (Date.now() > deadline) {
      await child.stop();
      throw new Error(`postgres on port ${opts.port} did not accept connections (${error})\n${child.tail()}`);
    }
    await sleep(50);
  }

  return {
    url,
    port: opts.port,
    pid: child.pid,
    exited: child.exited,
    dataDir,
    relocated,
    origin,
    user: runAs?.name ?? userInfo().username,
    stop: async () => {
      await child.stop();
    },
  };
}
