// Writes successful attempts in batches: what completes while one batch is being written goes into
// the next, so a busy sender spends one UPDATE and one lane arming per batch instead of two
// statements per delivery. A delivery's lease is held until its batch is written (its endpoint
// slot is given back when its request ends: the cap is on requests to the endpoint, and the next
// delivery of its lane waits for the write); a failed write rejects the batch's callers, whose
// leases then run out and the deliveries are sent again with the same id (at least once).
import type { Sql } from 'postgres';
import { armLanes, recordDelivered } from './queue.js';

const BATCH = 500;

export function createDeliveredWriter(sql: Sql, owner: string) {
  const queued: { id: string; statusCode: number; done: () => void; fail: (err: unknown) => void }[] = [];
  let flushing = false;

  const flush = async (): Promise<void> => {
    while (queued.length > 0) {
      const batch = queued.splice(0, BATCH);
      try {
        await armLanes(sql, await recordDelivered(sql, owner, batch));
        for (const b of batch) b.done();
      } catch (err) {
        for (const b of batch) b.fail(err);
      }
    }
  };
  const kick = () => {
    if (flushing || queued.length === 0) return;
    flushing = true;
    void flush().finally(() => {
      flushing = false;
      kick();
    });
  };

  return {
    /** Resolves once the delivery is recorded as delivered and its lane's next head is armed. */
    record: (id: string, statusCode: number) =>
      new Promise<void>((done, fail) => {
        queued.push({ id, statusCode, done, fail });
        kick();
      }),
  };
}
