// Report rollups (migrations 00004, 00006 and 00007: report_rollups per UTC hour,
// report_rollups_daily per UTC day, report_rollups_monthly per UTC month): what a batch inserted, added per account, metric, bucket, dimension (the account, its
// inbox, its agent) and value slot, in the batch's transaction. Only rows the batch really inserted
// count (the inserts return them), so a replayed batch adds nothing to any of them. Conversations
// count under their current assignee (00008): when the batch really changed it, `move` takes the
// conversation off the old agent's row and onto the new one, and a row a move leaves at zero is
// deleted (as a rebuild would not make it). Keys are written in sorted order, hourly rows before
// daily ones before monthly ones (concurrent archivers lock rollup rows in one order).
import { add, type Counts, type Tx } from './common.js';

export const HIST_SIZE = 64;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const TABLE = { hour: 'report_rollups', day: 'report_rollups_daily', month: 'report_rollups_monthly' } as const;
type Grain = keyof typeof TABLE;
const GRAINS = ['hour', 'day', 'month'] as const;

/** The bucket (ms) of a time at a grain: the UTC hour, day or month that holds it. */
function bucketOf(grain: Grain, at: number): number {
  if (grain === 'hour') return Math.floor(at / HOUR) * HOUR;
  if (grain === 'day') return Math.floor(at / DAY) * DAY;
  const d = new Date(at);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** The histogram slot (1-based) of a value in ms: report_hist_slot() in SQL. */
export function histSlot(v: number): number {
  return v < 1000 ? 1 : Math.min(HIST_SIZE, 2 + Math.floor(Math.log(v / 1000) / Math.log(1.3)));
}

type Delta = { account_id: string; metric: string; dim: string; key: string; bucket: number; slot: number; n: number; total: number };

export function createRollups() {
  const deltas: Record<Grain, Map<string, Delta>> = { hour: new Map(), day: new Map(), month: new Map() };
  function bump(account: string, metric: string, at: number, dims: readonly (readonly [string, string])[], slot: number, n: number, v: number): void {
    for (const grain of GRAINS) {
      const bucket = bucketOf(grain, at);
      for (const [dim, key] of dims) {
        if (dim !== 'all' && key === '') continue;
        const k = `${account}\u0001${metric}\u0001${dim}\u0001${key}\u0001${bucket}\u0001${slot}`;
        let d = deltas[grain].get(k);
        if (d === undefined) deltas[grain].set(k, (d = { account_id: account, metric, dim, key, bucket, slot, n: 0, total: 0 }));
        d.n += n;
        d.total += v;
      }
    }
  }
  function put(account: string, metric: string, at: number, inbox: string | null, agent: string | null, slot: number, v: number): void {
    bump(account, metric, at, [['all', ''], ['inbox', inbox ?? ''], ['agent', agent ?? '']], slot, 1, v);
  }
  /**
   * Adds n (+1 or -1) to the agent row of a count at `at`, and to no other dimension: a conversation
   * stays counted for its account and inbox, only its assignee changed.
   */
  function move(r: { account_id: string; metric: string; at: Date; agent_id: string; n: number }): void {
    bump(r.account_id, r.metric, r.at.getTime(), [['agent', r.agent_id]], 0, r.n, 0);
  }
  /**
   * Counts one row. kind 'count': slot 0; 'time': a value in ms with its business-hours value (also
   * under '<metric>:bh'); 'csat': the score is the slot.
   */
  function count(r: { account_id: string; metric: string; at: Date; inbox_id: string | null; agent_id: string | null; kind?: 'count' | 'time' | 'csat'; value?: number; value_bh?: number | null }): void {
    const at = r.at.getTime();
    const v = r.value ?? 0;
    if (r.kind === 'time') {
      const bh = r.value_bh ?? v;
      put(r.account_id, r.metric, at, r.inbox_id, r.agent_id, histSlot(v), v);
      put(r.account_id, `${r.metric}:bh`, at, r.inbox_id, r.agent_id, histSlot(bh), bh);
    } else if (r.kind === 'csat') put(r.account_id, r.metric, at, r.inbox_id, r.agent_id, Math.min(5, Math.max(1, Math.round(v))), v);
    else put(r.account_id, r.metric, at, r.inbox_id, r.agent_id, 0, 0);
  }

  async function write(tx: Tx, counts: Counts): Promise<void> {
    for (const grain of GRAINS) await writeGrain(tx, counts, grain);
    await prune(tx);
  }
  async function writeGrain(tx: Tx, counts: Counts, grain: Grain): Promise<void> {
    const table = TABLE[grain];
    // a move off a row and back onto it in one batch nets to nothing: not written (it would make a zero row)
    const rows = [...deltas[grain].entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, d]) => d)
      .filter((d) => d.n !== 0 || d.total !== 0);
    if (rows.length === 0) return;
    const col = <T>(f: (d: Delta) => T) => rows.map(f);
    const r = await tx`
      insert into ${tx(table)} (account_id, metric, dim, key, bucket, slot, n, total)
      select * from unnest(${tx.array(col((d) => d.account_id))}::text[], ${tx.array(col((d) => d.metric))}::text[],
                           ${tx.array(col((d) => d.dim))}::text[], ${tx.array(col((d) => d.key))}::text[],
                           ${tx.array(col((d) => new Date(d.bucket).toISOString()))}::timestamptz[], ${tx.array(col((d) => String(d.slot)))}::smallint[],
                           ${tx.array(col((d) => String(d.n)))}::bigint[], ${tx.array(col((d) => String(d.total)))}::float8[])
      on conflict (account_id, metric, dim, key, bucket, slot) do update set
        n = ${tx(table)}.n + excluded.n, total = ${tx(table)}.total + excluded.total`;
    add(counts, table, r.count);
  }
  /**
   * Deletes the rows a move took to zero, all three grains in one statement, and only when a batch
   * moved something off a row: reports leave zero sums out, but kept rows would pile up (an agent's
   * hour stays after each conversation of it moved on), be read by every range over them, and differ
   * from a rebuild, which makes none. The upsert above locked these rows: no other writer changes
   * them in between.
   */
  async function prune(tx: Tx): Promise<void> {
    const off = GRAINS.map((grain) => [...deltas[grain].values()].filter((d) => d.n < 0));
    if (off.every((l) => l.length === 0)) return;
    const del = (i: number) => {
      const grain = GRAINS[i] as Grain;
      const rows = off[i] ?? [];
      const col = <T>(f: (d: Delta) => T) => rows.map(f);
      return tx`delete from ${tx(TABLE[grain])} r
        using unnest(${tx.array(col((d) => d.account_id))}::text[], ${tx.array(col((d) => d.metric))}::text[],
                     ${tx.array(col((d) => d.dim))}::text[], ${tx.array(col((d) => d.key))}::text[],
                     ${tx.array(col((d) => new Date(d.bucket).toISOString()))}::timestamptz[], ${tx.array(col((d) => String(d.slot)))}::smallint[])
          as k(account_id, metric, dim, key, bucket, slot)
        where r.account_id = k.account_id and r.metric = k.metric and r.dim = k.dim and r.key = k.key
          and r.bucket = k.bucket and r.slot = k.slot and r.n = 0 and r.total = 0`;
    };
    await tx`with h as (${del(0)}), d as (${del(1)}) ${del(2)}`;
  }
  return { count, move, write };
}
