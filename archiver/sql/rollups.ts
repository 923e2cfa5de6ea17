// Report rollups (migration 00004, report_rollups): what a batch inserted, added per account, metric,
// 15-minute UTC bucket, inbox and agent, in the batch's transaction. Only rows the batch really
// inserted count (the inserts return them), so a replayed batch adds nothing. Keys are written in
// sorted order (concurrent archivers lock rollup rows in one order).
import { add, type Counts, type Tx } from './common.js';

export const HIST_SIZE = 64;
const QUARTER = 15 * 60_000;

/** The histogram slot (1-based) of a value in ms: report_hist_slot() in SQL. */
export function histSlot(v: number): number {
  return v < 1000 ? 1 : Math.min(HIST_SIZE, 2 + Math.floor(Math.log(v / 1000) / Math.log(1.3)));
}

type Delta = { account_id: string; metric: string; bucket: number; inbox_id: string; agent_id: string; n: number; total: number; total_bh: number; hist: number[]; hist_bh: number[] };

export function createRollups() {
  const deltas = new Map<string, Delta>();
  /** Counts one row: `value` (ms, or a csat score) with its business-hours value; `size` 1 (counts), 5 (csat) or 64. */
  function count(r: { account_id: string; metric: string; at: Date; inbox_id: string | null; agent_id: string | null; value?: number; value_bh?: number | null; size?: number }): void {
    const bucket = Math.floor(r.at.getTime() / QUARTER) * QUARTER;
    const inbox = r.inbox_id ?? '';
    const agent = r.agent_id ?? '';
    const key = `${r.account_id}\u0001${r.metric}\u0001${bucket}\u0001${inbox}\u0001${agent}`;
    const size = r.size ?? 1;
    let d = deltas.get(key);
    if (d === undefined) {
      d = { account_id: r.account_id, metric: r.metric, bucket, inbox_id: inbox, agent_id: agent, n: 0, total: 0, total_bh: 0, hist: new Array<number>(size).fill(0), hist_bh: new Array<number>(size).fill(0) };
      deltas.set(key, d);
    }
    const v = r.value ?? 0;
    const vbh = r.value_bh ?? v;
    d.n++;
    d.total += v;
    d.total_bh += vbh;
    const slot = size === 1 ? 1 : size === 5 ? Math.min(5, Math.max(1, Math.round(v))) : histSlot(v);
    const slotBh = size === 1 ? 1 : size === 5 ? slot : histSlot(vbh);
    d.hist[slot - 1] = (d.hist[slot - 1] ?? 0) + 1;
    d.hist_bh[slotBh - 1] = (d.hist_bh[slotBh - 1] ?? 0) + 1;
  }

  async function write(tx: Tx, counts: Counts): Promise<void> {
    if (deltas.size === 0) return;
    const rows = [...deltas.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, d]) => d);
    const col = <T>(f: (d: Delta) => T) => rows.map(f);
    const r = await tx`
      insert into report_rollups (account_id, metric, bucket, inbox_id, agent_id, n, total, total_bh, hist, hist_bh)
      select a, m, b, i, g, n, t, tb, h::int[], hb::int[]
        from unnest(${tx.array(col((d) => d.account_id))}::text[], ${tx.array(col((d) => d.metric))}::text[],
                    ${tx.array(col((d) => new Date(d.bucket).toISOString()))}::timestamptz[], ${tx.array(col((d) => d.inbox_id))}::text[],
                    ${tx.array(col((d) => d.agent_id))}::text[], ${tx.array(col((d) => String(d.n)))}::bigint[],
                    ${tx.array(col((d) => String(d.total)))}::float8[], ${tx.array(col((d) => String(d.total_bh)))}::float8[],
                    ${tx.array(col((d) => `{${d.hist.join(',')}}`))}::text[], ${tx.array(col((d) => `{${d.hist_bh.join(',')}}`))}::text[])
             as x(a, m, b, i, g, n, t, tb, h, hb)
      on conflict (account_id, metric, bucket, inbox_id, agent_id) do update set
        n = report_rollups.n + excluded.n, total = report_rollups.total + excluded.total,
        total_bh = report_rollups.total_bh + excluded.total_bh,
        hist = report_hist_add(report_rollups.hist, excluded.hist), hist_bh = report_hist_add(report_rollups.hist_bh, excluded.hist_bh)`;
    add(counts, 'report_rollups', r.count);
  }
  return { count, write };
}
