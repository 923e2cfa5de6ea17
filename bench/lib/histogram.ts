// A latency histogram in the manner of HdrHistogram: values in microseconds, exact below 128 µs,
// then 64 linear sub-buckets per power of two (under 1.6% error), so percentiles of millions of
// samples cost a fixed 2,048 counters. Histograms from several processes merge by adding counts.

const SUB = 64
const SIZE = 2048

export type HistogramData = { counts: [number, number][]; total: number; sumUs: number; maxUs: number }

function indexOf(us: number): number {
  const v = Math.max(0, Math.round(us))
  if (v < 2 * SUB) return v
  const e = 31 - Math.clz32(v) - 6 // v >> e lands in [64, 128)
  return Math.min(SIZE - 1, 2 * SUB + (e - 1) * SUB + ((v >>> e) - SUB))
}

/** The middle of a bucket's value range, in µs. */
function valueOf(index: number): number {
  if (index < 2 * SUB) return index
  const e = Math.floor((index - 2 * SUB) / SUB) + 1
  const sub = ((index - 2 * SUB) % SUB) + SUB
  return (sub << e) + ((1 << e) - 1) / 2
}

export function createHistogram() {
  const counts = new Float64Array(SIZE)
  let total = 0
  let sumUs = 0
  let maxUs = 0

  const record = (ms: number) => {
    const us = ms * 1000
    counts[indexOf(us)]! += 1
    total++
    sumUs += us
    if (us > maxUs) maxUs = us
  }

  const merge = (d: HistogramData) => {
    for (const [i, c] of d.counts) counts[i]! += c
    total += d.total
    sumUs += d.sumUs
    if (d.maxUs > maxUs) maxUs = d.maxUs
  }

  /** The value at percentile p (0–100), in ms; null without samples. */
  const percentile = (p: number): number | null => {
    if (total === 0) return null
    const rank = Math.max(1, Math.ceil((p / 100) * total))
    let seen = 0
    for (let i = 0; i < SIZE; i++) {
      seen += counts[i]!
      if (seen >= rank) return Math.min(valueOf(i), maxUs) / 1000
    }
    return maxUs / 1000
  }

  const data = (): HistogramData => {
    const out: [number, number][] = []
    for (let i = 0; i < SIZE; i++) if (counts[i]! > 0) out.push([i, counts[i]!])
    return { counts: out, total, sumUs, maxUs }
  }

  const reset = () => {
    counts.fill(0)
    total = 0
    sumUs = 0
    maxUs = 0
  }

  return {
    record, merge, percentile, data, reset,
    count: () => total,
    meanMs: () => (total === 0 ? null : sumUs / total / 1000),
    maxMs: () => (total === 0 ? null : maxUs / 1000),
  }
}

export type Histogram = ReturnType<typeof createHistogram>

/** p50/p99/p99.9/max in ms, rounded to µs. */
export function summarize(h: Histogram) {
  const r = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 1000)
  return { p50: r(h.percentile(50)), p99: r(h.percentile(99)), p999: r(h.percentile(99.9)), max: r(h.maxMs()), mean: r(h.meanMs()), samples: h.count() }
}
