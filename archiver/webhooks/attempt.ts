// One delivery attempt: the webhook's current definition (deleted → the delivery goes; inactive →
// looked at again later), the signed POST, then its outcome: a success into the batched writer
// (delivered.ts), a failure recorded with its next attempt time or as dead (410 deactivates the
// webhook first). `release` gives the endpoint's slot back as soon as the request is over.
import type { Logger } from 'pino';
import type { Sql } from 'postgres';
import { signingSecrets } from '../../lua/webhooks.js';
import { createDeliveredWriter } from './delivered.js';
import type { Definitions } from './definitions.js';
import type { DispatcherMetrics } from './metrics.js';
import { armLanes, postpone, recordFailure, type Claimed } from './queue.js';
import type { Sender } from './send.js';
import { signatureHeader } from './sign.js';

const INACTIVE_RECHECK_MS = 30_000;

export type SenderLoopConfig = {
  concurrency: number; maxInFlight: number; leaseMs: number; pollMs: number
  retryBaseMs: number; retryCapMs: number; retryMaxAgeMs: number; keepDeliveredMs: number
  /** this process's lease owner name */
  owner: string
};

/** Delay before attempt n + 1 after n failed attempts: base·2^(n−1), capped, times a jitter in [0.5, 1). */
export function retryDelayMs(failedAttempts: number, baseMs: number, capMs: number, random = Math.random): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(failedAttempts - 1, 0), 30));
  return Math.max(1, Math.round(exp * (0.5 + random() / 2)));
}

export function createAttempt(deps: {
  sql: Sql; log: Logger; metrics: DispatcherMetrics; definitions: Definitions; http: Sender; config: SenderLoopConfig; now: () => number
}): (d: Claimed, release: () => void) => Promise<void> {
  const { sql, log, metrics, definitions, config, now } = deps;
  const delivered = createDeliveredWriter(sql, config.owner);

  return async (d: Claimed, release: () => void): Promise<void> => {
    const def = await definitions.get(d.account_id, d.webhook_id);
    if (def === null) {
      // deleted: its deliveries go (the intake deletes them too when it reads webhook.deleted)
      await sql`delete from webhook_deliveries where id = ${d.id} and lease_owner = ${config.owner}`;
      return;
    }
    if (!def.active) {
      await postpone(sql, d.id, config.owner, INACTIVE_RECHECK_MS);
      return;
    }
    const started = process.hrtime.bigint();
    const result = await deps.http.send({
      webhookId: d.webhook_id, url: def.url, body: d.body,
      headers: {
        'user-agent': 'Parley-Webhooks/1', 'x-parley-delivery': d.id, 'x-parley-event': d.event,
        'x-parley-attempt': String(d.attempts + 1), 'x-parley-signature': signatureHeader(signingSecrets(def, now()), d.body, now()),
      },
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    release();
    if (result.ok) {
      metrics.deliveries.inc({ result: 'delivered' });
      metrics.latency.observe({ result: 'delivered' }, seconds);
      await delivered.record(d.id, result.statusCode);
      return;
    }
    const gone = result.statusCode === 410;
    if (gone && (await definitions.deactivate(d.account_id, d.webhook_id, 'the endpoint answered 410 Gone'))) {
      log.warn({ webhook: d.webhook_id, delivery: d.id }, 'endpoint answered 410 Gone: webhook deactivated');
    }
    const status = await recordFailure(sql, d.id, config.owner, {
      statusCode: result.statusCode, error: result.error,
      retryInMs: retryDelayMs(d.attempts + 1, config.retryBaseMs, config.retryCapMs), maxAgeMs: config.retryMaxAgeMs,
    });
    const label = gone ? 'gone' : result.refused ? 'refused' : status === 'dead' ? 'dead' : 'failed';
    metrics.deliveries.inc({ result: label });
    if (status === 'dead' && label !== 'dead') metrics.deliveries.inc({ result: 'dead' });
    metrics.latency.observe({ result: 'failed' }, seconds);
    log.debug({ webhook: d.webhook_id, delivery: d.id, error: result.error, status }, 'delivery attempt failed');
    if (status === 'dead') log.warn({ webhook: d.webhook_id, delivery: d.id, attempts: d.attempts + 1, error: result.error }, 'delivery dead-lettered');
    if (status === 'dead') await armLanes(sql, [{ webhookId: d.webhook_id, lane: d.lane }]);
  };
}
