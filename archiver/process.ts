// What the archiver's processes (archiver/main.ts, archiver/webhooks/main.ts) share around their
// work: how an unhandled rejection is judged, the stop signals, and closing their clients.
import type { Sql } from 'postgres';
import type { RedisClient } from '../lua/client.js';
import type { Logger } from 'pino';
import { isTransientPgError } from './pg-errors.js';

// postgres.js can reject a promise nobody holds when PostgreSQL drops a connection mid-write
// (seen once in CI during the outage test: "write CONNECTION_CLOSED"). The work is retried and
// nothing is acknowledged before a commit, so a transient connection error is logged, not fatal;
// anything else still crashes the process.
export function handleProcessSignals(log: Logger, shutdown: (signal: string, code: number) => Promise<void>): void {
  process.on('unhandledRejection', (err: unknown) => {
    if (isTransientPgError(err)) {
      log.warn({ err }, 'postgres connection error outside a batch; retried');
      return;
    }
    log.fatal({ err }, 'unhandled rejection');
    process.exit(1);
  });
  process.once('SIGINT', () => void shutdown('SIGINT', 0));
  process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
}

/** Quits Redis (at most 2 s, then drops the link) and ends PostgreSQL (5 s). */
export async function closeClients(redis: RedisClient, sql: Sql, log: Logger): Promise<void> {
  await Promise.race([redis.quit(), new Promise((r) => setTimeout(r, 2000))]).catch(() => undefined);
  redis.disconnect();
  await sql.end({ timeout: 5 }).catch((err: unknown) => log.warn({ err }, 'postgres close failed'));
}
