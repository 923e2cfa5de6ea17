// Readiness probes: Redis answers PING and PostgreSQL answers `select 1`, each within a deadline
// (a down server must turn /readyz to 503 quickly, not hang the probe), the schema is migrated,
// and the stream consumer is not stuck retrying a batch (PostgreSQL up but refusing writes).
import type { RedisClient as Redis } from '../lua/client.js';
import type { Sql } from 'postgres';

export type ReadinessReport = { redis: boolean; postgres: boolean; migrated: boolean; archiving: boolean };

export type Readiness = {
  check(): Promise<ReadinessReport>;
  /** Set once migrations have been applied; the archiver is not ready before. */
  markMigrated(): void;
  /** False while the stream consumer retries a batch PostgreSQL did not take. */
  setArchiving(ok: boolean): void;
};

export function createReadiness(deps: { redis: Redis; sql: Sql; timeoutMs?: number }): Readiness {
  const timeoutMs = deps.timeoutMs ?? 1000;
  let migrated = false;
  let archiving = true;

  const redisOk = async (): Promise<boolean> => {
    // While ioredis reconnects it queues commands; do not wait on the queue.
    if (deps.redis.status !== 'ready') return false;
    return (await within(deps.redis.ping(), timeoutMs)) === 'PONG';
  };
  const postgresOk = async (): Promise<boolean> => {
    const rows = await within(deps.sql<{ ok: number }[]>`select 1 as ok`, timeoutMs);
    return rows?.[0]?.ok === 1;
  };

  return {
    async check() {
      const [redis, postgres] = await Promise.all([redisOk(), postgresOk()]);
      return { redis, postgres, migrated, archiving };
    },
    markMigrated() {
      migrated = true;
    },
    setArchiving(ok) {
      archiving = ok;
    },
  };
}

/** The promise's value, or undefined if it rejects or takes longer than `ms`. */
async function within<T>(p: PromiseLike<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  const settled = Promise.resolve(p).then(
    (v) => v,
    () => undefined,
  );
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
