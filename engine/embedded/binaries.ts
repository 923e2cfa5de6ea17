// Locates the redis-server and PostgreSQL binaries the embedded stack runs.
// Every lookup takes its search path as an option so tests can point it at a
// fake PATH instead of uninstalling anything.
import { accessSync, constants, readdirSync, realpathSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { delimiter, join } from 'node:path';

export const REDIS_DIRS: readonly string[] = ['/usr/bin', '/usr/sbin', '/usr/local/bin'];
export const PG_LIB_ROOT = '/usr/lib/postgresql';

export type BinarySearch = {
  /** PATH to search; defaults to process.env.PATH. */
  path?: string | undefined;
  /** Directories tried after PATH for redis-server. */
  redisDirs?: readonly string[];
  /** Root holding <version>/bin directories, tried after PATH for postgres. */
  pgLibRoot?: string;
};

export type PostgresBinaries = { postgres: string; initdb: string; binDir: string };

export type MissingBinary = 'redis-server' | 'postgres';

export class MissingBinaryError extends Error {
  readonly missing: readonly MissingBinary[];
  constructor(missing: readonly MissingBinary[], searched: readonly string[]) {
    super(missingBinariesMessage(missing, searched));
    this.name = 'MissingBinaryError';
    this.missing = missing;
  }
}

/** The message shown when a server binary is missing: says exactly what to run. */
export function missingBinariesMessage(
  missing: readonly MissingBinary[],
  searched: readonly string[] = [],
): string {
  const what = missing.map((m) => (m === 'postgres' ? 'postgres/initdb' : m)).join(' and ');
  const where = searched.length > 0 ? ` (searched: ${searched.join(', ')})` : '';
  return (
    `${what} not found${where}. ` +
    'Install the servers the embedded stack runs: `npm run setup` (as root), or ' +
    '`sudo apt-get install -y redis-server postgresql`. ' +
    'Or set REDIS_URL and DATABASE_URL to servers you already run.'
  );
}

function isExecutable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function pathDirs(path: string | undefined): string[] {
  return (path ?? '').split(delimiter).filter((d) => d.length > 0);
}

export function findRedisServer(search: BinarySearch = {}): string {
  const dirs = [...pathDirs(search.path ?? process.env.PATH), ...(search.redisDirs ?? REDIS_DIRS)];
  for (const dir of dirs) {
    const file = join(dir, 'redis-server');
    // Not realpath'd: Debian's redis-server is a symlink to redis-check-rdb,
    // and the binary picks its role from the name it was started under.
    if (isExecutable(file)) return file;
  }
  throw new MissingBinaryError(['redis-server'], dirs);
}

function pgIn(dir: string): PostgresBinaries | undefined {
  const postgres = join(dir, 'postgres');
  const initdb = join(dir, 'initdb');
  if (!isExecutable(postgres) || !isExecutable(initdb)) return undefined;
  // Resolve symlinks (/usr/local/bin/postgres -> /usr/lib/postgresql/15/bin/postgres):
  // initdb finds its postgres and share files relative to its real location.
  const realPostgres = realpathSync(postgres);
  const realInitdb = realpathSync(initdb);
  return { postgres: realPostgres, initdb: realInitdb, binDir: join(realPostgres, '..') };
}

/** Version directories under root, highest first ("9.6" sorts below "15"). */
function versionDirs(root: string): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d+(\.\d+)?$/.test(n))
    .sort((a, b) => Number(b) - Number(a))
    .map((n) => join(root, n, 'bin'));
}

export function findPostgres(search: BinarySearch = {}): PostgresBinaries {
  const dirs = [
    ...pathDirs(search.path ?? process.env.PATH),
    ...versionDirs(search.pgLibRoot ?? PG_LIB_ROOT),
  ];
  for (const dir of dirs) {
    const found = pgIn(dir);
    if (found) return found;
  }
  const searched = [...pathDirs(search.path ?? process.env.PATH), `${search.pgLibRoot ?? PG_LIB_ROOT}/*/bin`];
  throw new MissingBinaryError(['postgres'], searched);
}

const versions = new Map<string, string>();

/** "15.14" from `postgres --version` ("postgres (PostgreSQL) 15.14 (Debian ...)"). */
export function postgresVersion(postgresBin: string): string {
  const cached = versions.get(postgresBin);
  if (cached) return cached;
  const out = execFileSync(postgresBin, ['--version'], { encoding: 'utf8' });
  const match = /\(PostgreSQL\)\s+([0-9][0-9A-Za-z.]*)/.exec(out);
  const version = match?.[1] ?? out.trim().replace(/[^0-9A-Za-z.]+/g, '_');
  versions.set(postgresBin, version);
  return version;
}
