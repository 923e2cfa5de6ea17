// Row counts per table and small helpers shared by the batch writers.
import type { JSONValue, TransactionSql } from 'postgres';

export type Tx = TransactionSql;

export const TABLES = [
  'accounts', 'inboxes', 'agents', 'inbox_members', 'contacts', 'contact_inboxes', 'conversations', 'messages',
  'reporting_events', 'csat_responses', 'archiver_dead_letters', 'report_rollups',
  'report_rollups_daily', 'report_rollups_monthly',
] as const;
export type Table = (typeof TABLES)[number];

/** Rows inserted or updated, per table. */
export type Counts = Partial<Record<Table, number>>;

export function add(counts: Counts, table: Table, n: number): void {
  if (n > 0) counts[table] = (counts[table] ?? 0) + n;
}

export function merge(into: Counts, from: Counts): void {
  for (const [t, n] of Object.entries(from)) add(into, t as Table, n);
}

/** A jsonb parameter. */
export const j = (tx: Tx, v: unknown) => tx.json(v as JSONValue);

export const uniq = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();
