// Writes one batch of partition-stream entries to PostgreSQL in ONE transaction, with the
// partition's checkpoint: every insert is idempotent on a key minted by the engine, so a replayed
// batch (a crash between COMMIT and XACK, a stolen pending entry) changes nothing. What goes where:
// sql/directory.ts (accounts, inboxes, agents, contacts) and sql/conversations.ts (conversations,
// messages, reporting events, CSAT). An entry that cannot be written even on its own (malformed,
// or a constraint the engine's data breaks) goes to archiver_dead_letters in the same transaction:
// never dropped silently, never a wedged stream. Other errors (PostgreSQL down, a missing table)
// propagate with nothing written: the caller retries the batch.
import postgres, { type Sql } from 'postgres';
import { parseEvent, type StreamEvent } from '../lua/codec.js';
import { isTransientPgError } from './pg-errors.js';
import { BadEventError, isIgnored, project } from './project.js';
import { add, merge, type Counts, type Table, type Tx } from './sql/common.js';
import { checkpoint, deadLetter, writeConversations } from './sql/conversations.js';
import { writeDirectory } from './sql/directory.js';
import { maxStreamId } from './stream-id.js';

export { TABLES, type Table } from './sql/common.js';

/** One stream entry as XREADGROUP returns it (fields present: deleted entries never get here). */
export type RawEntry = { id: string; fields: readonly string[] };

export type BatchResult = {
  /** rows inserted or updated, per table (replays count 0) */
  rows: Partial<Record<Table, number>>;
  /** entries stored in archiver_dead_letters by this batch */
  deadLetters: { id: string; error: string }[];
  /** events the archiver does not store anything for */
  ignored: number;
  lastId: string;
};

/** Writes `events` (stream order) inside `tx`. */
async function apply(tx: Tx, events: readonly StreamEvent[]): Promise<Counts> {
  const p = project(events);
  const counts = await writeDirectory(tx, p);
  merge(counts, await writeConversations(tx, events, p));
  return counts;
}

const message = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

/**
 * Writes `entries` (one partition, stream order) and the partition checkpoint in one transaction.
 * Resolves once committed. Rejects when the batch could not be written (PostgreSQL unreachable,
 * a deadlock, but also a missing table or privilege): nothing of it is then written, and the
 * caller retries. Only errors caused by the data of one entry dead-letter that entry.
 */
export async function writeBatch(sql: Sql, partition: number, entries: readonly RawEntry[]): Promise<BatchResult> {
  const lastId = maxStreamId(entries.map((e) => e.id));
  if (lastId === null) return { rows: {}, deadLetters: [], ignored: 0, lastId: '0-0' };

  // Parse and project outside the transaction; malformed entries are set aside.
  const bad: { entry: RawEntry; type: string | null; uid: string | null; error: string }[] = [];
  const events: StreamEvent[] = [];
  let ignored = 0;
  for (const entry of entries) {
    const e = parseEvent(entry.id, entry.fields);
    if (e === null) bad.push({ entry, type: null, uid: null, error: 'not a partition event (fields t, a, u, ts, d)' });
    else if (isIgnored(e)) ignored++;
    else {
      try {
        project([e]);
        events.push(e);
      } catch (err) {
        if (!(err instanceof BadEventError)) throw err;
        bad.push({ entry, type: e.type, uid: e.uid, error: err.message });
      }
    }
  }
  const rawById = new Map(entries.map((e) => [e.id, e]));

  const writeBad = async (tx: Tx, list: typeof bad, counts: Counts) => {
    for (const b of list) add(counts, 'archiver_dead_letters', await deadLetter(tx, partition, b.entry.id, b.entry.fields, b.type, b.uid, b.error));
  };

  try {
    const rows = await sql.begin(async (tx) => {
      const counts = await apply(tx, events);
      await writeBad(tx, bad, counts);
      await checkpoint(tx, partition, lastId);
      return counts;
    });
    return { rows, deadLetters: bad.map((b) => ({ id: b.entry.id, error: b.error })), ignored, lastId };
  } catch (err) {
    if (!isDataError(err)) throw err;
    // Something in the batch breaks a constraint: write event by event, each in a savepoint, and
    // dead-letter the ones that fail alone.
  }

  const isolatedBad = [...bad];
  const rows = await sql.begin(async (tx) => {
    const counts: Counts = {};
    for (const e of events) {
      try {
        merge(counts, await tx.savepoint((sp) => apply(sp, [e])));
      } catch (err) {
        if (!isDataError(err)) throw err;
        const raw = rawById.get(e.id);
        isolatedBad.push({ entry: raw ?? { id: e.id, fields: [] }, type: e.type, uid: e.uid, error: message(err) });
        add(counts, 'archiver_dead_letters', await deadLetter(tx, partition, e.id, raw?.fields ?? [], e.type, e.uid, message(err)));
      }
    }
    await writeBad(tx, bad, counts);
    await checkpoint(tx, partition, lastId);
    return counts;
  });
  return { rows, deadLetters: isolatedBad.map((b) => ({ id: b.entry.id, error: b.error })), ignored, lastId };
}

/** An error caused by the values written (class 22 data exception, 23 constraint violation). */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof postgres.PostgresError && typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/** Worth retrying the whole batch: the server is unreachable or the transaction lost a race. */
export function isRetryable(err: unknown): boolean {
  if (isTransientPgError(err)) return true;
  const code = (err as { code?: unknown } | null)?.code;
  // 40001 serialization_failure, 40P01 deadlock_detected, 55P03 lock_not_available
  return code === '40001' || code === '40P01' || code === '55P03';
}
