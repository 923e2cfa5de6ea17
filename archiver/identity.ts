// The archiver's consumer name in the `archiver` group, stable across restarts so that a restarted
// process re-reads its own pending entries at once (XREADGROUP … 0) instead of waiting
// ARCHIVER_CLAIM_IDLE_MS for XAUTOCLAIM to take them from "a stalled consumer".
//
// The name is ARCHIVER_CONSUMER, or `archiver@<host name>`. A lease in Redis with a short TTL
// (ARCHIVER_LEASE_MS, renewed every third of it) says which live process holds it: a process killed
// with SIGKILL stops renewing, so its successor gets the name within one TTL. Two processes never
// share a name: one that finds the name held by a live process for longer than a TTL takes a unique
// name (as before: its entries are claimed by XAUTOCLAIM after a crash). A holder that learns
// its lease went to another process (e.g. Redis lost it and another process took the free name)
// is told through `onLost` and stops (main.ts exits; its supervisor restarts it under a free name).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { archiverConsumerKey } from '../lua/keys.js';
import { holdLeaseCall, type Scripts } from '../lua/scripts.js';

export type ConsumerIdentity = {
  readonly name: string;
  /** true when `name` is the stable one (ARCHIVER_CONSUMER or archiver@host), false for a fallback */
  readonly stable: boolean;
  /** stops renewing and frees the name for the next process at once */
  release(): Promise<void>;
};

export function stableConsumerName(configured: string | null): string {
  return configured ?? `archiver@${hostname()}`.slice(0, 100);
}

export async function acquireConsumerName(deps: {
  scripts: Scripts;
  log: Logger;
  preferred: string;
  leaseMs: number;
  signal: AbortSignal;
  onLost: () => void;
}): Promise<ConsumerIdentity> {
  const { scripts, log, preferred, leaseMs, signal } = deps;
  const owner = `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;
  const hold = async (name: string, ttlMs: number): Promise<number> =>
    Number((await scripts.run(holdLeaseCall(archiverConsumerKey(name), { owner, ttlMs })))[0]);

  // a dead predecessor's lease runs out within leaseMs of its last renewal; one held past that is
  // live. The wait starts once Redis answers (unreachable Redis: keep asking, like the consumer would).
  let deadline: number | null = null;
  let name = preferred;
  let stable = true;
  for (let failures = 0; ; ) {
    if (signal.aborted) throw new Error('stopped before a consumer name was held');
    let held: number;
    try {
      held = await hold(preferred, leaseMs);
    } catch (err) {
      if (++failures === 1) log.warn({ err }, 'redis unreachable while taking the consumer name; retrying');
      await sleep(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)), undefined, { signal }).catch(() => undefined);
      continue;
    }
    if (held === 1) break;
    deadline ??= Date.now() + leaseMs + Math.ceil(leaseMs / 3);
    if (Date.now() >= deadline) {
      name = `${preferred.slice(0, 80)}-${process.pid}-${randomBytes(3).toString('hex')}`;
      stable = false;
      log.warn({ preferred, name }, 'the consumer name is held by another live archiver; using a unique one (after a crash its pending entries are claimed after ARCHIVER_CLAIM_IDLE_MS)');
      if ((await hold(name, leaseMs)) !== 1) throw new Error('could not take a fresh consumer name');
      break;
    }
    await sleep(Math.min(250, Math.ceil(leaseMs / 8)), undefined, { signal }).catch(() => undefined);
  }

  let stopped = false;
  const renew = async (): Promise<void> => {
    try {
      if ((await hold(name, leaseMs)) === 0 && !stopped) {
        stopped = true;
        clearInterval(timer);
        log.error({ name }, 'another archiver took this consumer name (the lease lapsed); stopping');
        deps.onLost();
      }
    } catch (err) {
      // Redis unreachable: keep trying; nobody else can take the name from an unreachable Redis
      log.debug({ err }, 'consumer lease renewal failed');
    }
  };
  const timer = setInterval(() => void renew(), Math.max(50, Math.floor(leaseMs / 3)));
  timer.unref();
  return {
    name,
    stable,
    async release() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await hold(name, 0).catch(() => undefined);
    },
  };
}
