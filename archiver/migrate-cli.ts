// Composition root: `node dist/archiver/migrate-cli.js` applies pending migrations to
// DATABASE_URL and exits 0; exit 2 for a missing/invalid DATABASE_URL, 1 when migrating fails.
import postgres from 'postgres';
import { LOG_LEVELS, safeUrl, type LogLevel } from './config.js';
import { createLogger } from './log.js';
import { runMigrations } from './migrate.js';

const url = process.env['DATABASE_URL']?.trim();
if (!url) {
  process.stderr.write('archiver migrate: DATABASE_URL is required (postgres://user:pass@host:port/db)\n');
  process.exit(2);
}
if (!/^postgres(ql)?:\/\//.test(url)) {
  process.stderr.write('archiver migrate: DATABASE_URL must start with postgres:// or postgresql://\n');
  process.exit(2);
}
const level = process.env['LOG_LEVEL']?.trim().toLowerCase() ?? 'info';
const log = createLogger(LOG_LEVELS.find((l) => l === level) ?? ('info' satisfies LogLevel), 'archiver-migrate');

const sql = postgres(url, {
  max: 1,
  connect_timeout: 10,
  onnotice: (notice) => log.debug({ notice: notice.message }, 'postgres notice'),
});
let code = 0;
try {
  const { applied } = await runMigrations(sql, log);
  log.info({ applied, database: safeUrl(url) }, applied.length > 0 ? `applied ${applied.join(', ')}` : 'schema up to date');
} catch (err) {
  code = 1;
  log.fatal({ err, database: safeUrl(url) }, 'migration failed');
  process.stderr.write(`archiver migrate: failed: ${err instanceof Error ? err.message : String(err)}\n`);
} finally {
  await sql.end({ timeout: 5 }).catch(() => undefined);
}
process.exit(code);
