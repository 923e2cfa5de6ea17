// The dispatcher's delivery side: claims due deliveries from PostgreSQL (queue.ts) and sends them
// (send.ts), at most `concurrency` requests at a time per webhook and `maxInFlight` deliveries in
// all. A webhook at its cap (or with claimed deliveries waiting for a slot) is left out of the
// next claim, so a dead or hanging endpoint holds only its own slots and never another's. Each
// attempt is attempt.ts. Outcomes: 2xx delivered; 410 the webhook is deactivated (and the delivery
// retried like a failure, should it be reactivated); anything else (status, reset, timeout,
// refused destination) is retried with exponential backoff and jitter from `retryBaseMs`, capped
// at `retryCapMs`, until `retryMaxAgeMs` after it was queued (or replayed): then it is dead.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Sql } from 'postgres';
import { backoffMs } from '../batches.js';
import { createAttempt, type SenderLoopConfig } from './attempt.js';
import type { Definitions } from './definitions.js';
import type { DispatcherMetrics } from './metrics.js';
import { armLanes, claimDue, postpone, pruneDelivered, unarmedLanes, type Claimed } from './queue.js';
import type { Sender } from './send.js';

export { retryDelayMs, type SenderLoopConfig } from './attempt.js';

const PREFETCH = 2;
const PRUNE_EVERY_MS = 60_000;
const ARM_SWEEP_MS = 60_000;

export function createSenderLoop(deps: {
  sql: Sql; log: Logger; metrics: DispatcherMetrics; definitions: Definitions; http: Sender; config: SenderLoopConfig; now?: () => number
}) {
  const { sql, metrics, config } = deps;
  const log = deps.log.child({ part: 'sender' });
  const now = deps.now ?? Date.now;
  const abort = new AbortController();
  const inFlight = new Map<string, number>();
  let total = 0;
  let wake: (() => void) | null = null;
  let loop: Promise<void> | undefined;
  const attempts = new Set<Promise<void>>();

  let poked = false;
  const poke = () => {
    poked = true;
    const w = wake;
    wake = null;
    w?.();
  };
  const idle = (ms: number) =>
    new Promise<void>((resolve) => {
      if (poked) {
        poked = false;
        return resolve();
      }
      const done = () => {
        clearTimeout(timer);
        wake = null;
        abort.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      wake = done;
      abort.signal.addEventListener('abort', done, { once: true });
    });

  const attempt = createAttempt({ ...deps, log, now });

  const start = (d: Claimed) => {
    inFlight.set(d.webhook_id, (inFlight.get(d.webhook_id) ?? 0) + 1);
    total++;
    metrics.inFlight.set(total);
    // the endpoint's slot is given back once its request is over, not after the bookkeeping: the
    // cap is on requests to the endpoint (the lane's next delivery still waits for the outcome)
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const n = (inFlight.get(d.webhook_id) ?? 1) - 1;
      if (n <= 0) inFlight.delete(d.webhook_id);
      else inFlight.set(d.webhook_id, n);
      poke();
    };
    const p = attempt(d, release)
      .catch((err: unknown) => {
        metrics.retries.inc({ stage: 'attempt' });
        log.warn({ err, delivery: d.id }, 'delivery bookkeeping failed; the lease runs out and it is sent again');
      })
      .finally(() => {
        release();
        total--;
        metrics.inFlight.set(total);
        attempts.delete(p);
        poke();
      });
    attempts.add(p);
  };

  /**
   * Claimed beyond a webhook's free slots wait here for a slot: a claim takes up to PREFETCH × the
   * cap per webhook, so the next requests are at hand when slots free up (one claim round trip per
   * cap's worth of deliveries would bound a fast endpoint's rate). One still waiting after half its
   * lease (its endpoint is slow) is given back, due at once, rather than sent with a lease that may
   * run out mid-request.
   */
  const waiting = new Map<string, { d: Claimed; at: number }[]>();
  const giveBack: Claimed[] = [];
  const drainWaiting = () => {
    for (const [id, list] of waiting) {
      while (list.length > 0 && (inFlight.get(id) ?? 0) < config.concurrency) {
        const w = list.shift() as { d: Claimed; at: number };
        if (now() - w.at > config.leaseMs / 2) giveBack.push(w.d);
        else start(w.d);
      }
      if (list.length === 0) waiting.delete(id);
    }
  };

  const run = async () => {
    let failures = 0;
    let nextPrune = now() + PRUNE_EVERY_MS;
    let nextSweep = 0;
    while (!abort.signal.aborted) {
      try {
        poked = false;
        drainWaiting();
        for (const d of giveBack.splice(0)) await postpone(sql, d.id, config.owner, 0);
        const room = config.maxInFlight - total;
        let claimed: Claimed[] = [];
        if (room > 0) {
          const busy = [...new Set([...inFlight].filter(([, n]) => n >= config.concurrency).map(([id]) => id).concat([...waiting.keys()]))];
          claimed = await claimDue(sql, { limit: Math.min(room, 500), perWebhook: config.concurrency * PREFETCH, busy, leaseMs: config.leaseMs, owner: config.owner });
          for (const d of claimed) {
            if ((inFlight.get(d.webhook_id) ?? 0) < config.concurrency) start(d);
            else {
              const list = waiting.get(d.webhook_id) ?? [];
              list.push({ d, at: now() });
              waiting.set(d.webhook_id, list);
            }
          }
        }
        if (now() >= nextSweep) {
          nextSweep = now() + ARM_SWEEP_MS;
          const armed = await armLanes(sql, await unarmedLanes(sql));
          if (armed > 0) log.info({ armed }, 'armed lanes a crash or a failed statement had left waiting');
        }
        if (now() >= nextPrune) {
          nextPrune = now() + PRUNE_EVERY_MS;
          if (config.keepDeliveredMs > 0) await pruneDelivered(sql, config.keepDeliveredMs);
        }
        failures = 0;
        if (claimed.length === 0 || total >= config.maxInFlight) await idle(config.pollMs);
      } catch (err) {
        failures++;
        metrics.retries.inc({ stage: 'claim' });
        if (failures === 1 || failures % 20 === 0) log.warn({ err, failures }, 'claiming due deliveries failed; retrying');
        await sleep(backoffMs(failures), undefined, { signal: abort.signal }).catch(() => undefined);
      }
    }
  };

  return {
    start() {
      loop = run();
    },
    /** new deliveries were queued: look for due ones now */
    poke,
    async stop(graceMs = 5_000) {
      abort.abort();
      poke();
      await loop;
      // claimed but never started: due again at once for whoever runs next (not after the lease)
      const unsent = [...waiting.values()].flat().map((w) => w.d.id);
      waiting.clear();
      await Promise.allSettled(unsent.map((id) => postpone(sql, id, config.owner, 0)));
      await Promise.race([Promise.allSettled([...attempts]), sleep(graceMs)]);
    },
  };
}
