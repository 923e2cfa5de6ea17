// Forward-only SQL migrations: archiver/migrations/NNNNN_name.sql, applied in numeric order, each
// in its own transaction under a transaction-scoped advisory lock, recorded in schema_migrations.
// Concurrent runners (several archivers starting at once) serialize on the lock; the loser sees
// the winner's row once the lock is granted (READ COMMITTED) and skips the file.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import type { Sql } from 'postgres';

// Compiled to dist/archiver/migrate.js; the .sql files are not copied by tsc, so point back at
// the source folder.
export const MIGRATIONS_DIR = new URL('../../archiver/migrations/', import.meta.url);

// pg_advisory_xact_lock key for migrations ('parley' in ASCII).
export const MIGRATION_LOCK_KEY = 0x7061726c6579;

export type MigrationLog = {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
};

export type MigrationFile = { version: string; number: number; url: URL };

const FILE_RE = /^(\d+)_[A-Za-z0-9_-]+\.sql$/;

/** Lists the migration files of `dir` in numeric order; rejects misnamed or duplicate numbers. */
export async function listMigrations(dir: URL = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sql'));
  const files = names.map((name) => {
    const m = FILE_RE.exec(name);
    if (!m?.[1]) throw new Error(`migration file name must look like 00001_name.sql: ${name}`);
    return { version: name.slice(0, -'.sql'.length), number: Number(m[1]), url: new URL(name, dir) };
  });
  files.sort((a, b) => a.number - b.number);
  for (let i = 1; i < files.length; i++) {
    if (files[i]?.number === files[i - 1]?.number) {
      throw new Error(`two migrations share number ${files[i]?.number}: ${files[i - 1]?.version}, ${files[i]?.version}`);
    }
  }
  return files;
}

/** Applies every pending migration of `dir`; returns the versions this call applied. */
export async function runMigrations(
  sql: Sql,
  log?: MigrationLog,
  dir: URL = MIGRATIONS_DIR,
): Promise<{ applied: string[] }> {
  const files = await listMigrations(dir);
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY}::bigint)`;
    await tx`
      create table if not exists schema_migrations (
        version     text primary key,
        checksum    text not null,
        applied_at  timestamptz not null default now()
      )`;
  });

  const applied: string[] = [];
  for (const file of files) {
    const text = await readFile(file.url, 'utf8');
    const checksum = createHash('sha256').update(text).digest('hex');
    const done = await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY}::bigint)`;
      const [row] = await tx<{ checksum: string }[]>`
        select checksum from schema_migrations where version = ${file.version}`;
      if (row) return row.checksum;
      // The one place raw SQL runs: a whole migration file, simple protocol, no parameters.
      await tx.unsafe(text);
      await tx`insert into schema_migrations (version, checksum) values (${file.version}, ${checksum})`;
      return null;
    });
    if (done === null) {
      applied.push(file.version);
      log?.info({ version: file.version }, 'migration applied');
    } else if (done !== checksum) {
      log?.warn({ version: file.version }, 'applied migration file changed since it was applied; migrations are forward-only, add a new file instead');
    }
  }
  return { applied };
}

/** First day (UTC) of the month containing `now`, as YYYY-MM-01. */
export function utcMonthStart(now: Date | number): string {
  const d = new Date(now);
  if (Number.isNaN(d.getTime())) throw new Error('utcMonthStart: invalid date');
  return `${String(d.getUTCFullYear()).padStart(4, '0')}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-01`;
}

/**
 * Makes sure the messages partitions exist for the UTC month of `now` and the `months` months
 * after it (the migration does this month + 3). Returns the partitions it created.
 */
export async function ensurePartitionsAhead(sql: Sql, now: Date | number, months: number): Promise<string[]> {
  if (!Number.isInteger(months) || months < 0) throw new Error(`ensurePartitionsAhead: bad months ${months}`);
  const rows = await sql<{ name: string }[]>`
    select ensure_message_partitions(${utcMonthStart(now)}::date, ${months + 1}::int) as name`;
  return rows.map((r) => r.name);
}
