// Rollup histograms: the archiver's slot function and the report's quantile estimate.
import t from 'tap'
import { histSlot, HIST_SIZE } from '../../archiver/sql/rollups.js'
import { histQuantile } from '../../engine/reports/rollups.js'

t.test('slots: [0, 1 s), then ×1.3 each, the last open-ended', async (t) => {
  t.equal(histSlot(0), 1)
  t.equal(histSlot(999), 1)
  t.equal(histSlot(1000), 2)
  t.equal(histSlot(1299), 2)
  t.equal(histSlot(1300), 3)
  t.equal(histSlot(1e15), HIST_SIZE)
})

t.test('quantiles from a histogram are within a slot width of the exact ones', async (t) => {
  let seed = 42
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  const values = Array.from({ length: 5000 }, () => Math.exp(rand() * 14) * 100) // 100 ms … 100 min, log-uniform
  const hist = new Map<number, number>()
  for (const v of values) hist.set(histSlot(v), (hist.get(histSlot(v)) ?? 0) + 1)
  values.sort((a, b) => a - b)
  for (const p of [0.5, 0.9]) {
    const rank = p * (values.length - 1)
    const exact = values[Math.floor(rank)]!
    const est = histQuantile(hist, p)!
    t.ok(est / exact < 1.3 && exact / est < 1.3, `p${p * 100}: ${Math.round(est)} vs exact ${Math.round(exact)}`)
  }
  t.equal(histQuantile(new Map(), 0.5), null, 'empty')
})
