// Is anything but the bench loading the machine? Figures from a box that other work shares are
// noise, so the bench measures it: the machine's busy CPU (/proc/stat) minus the CPU of its own
// processes is the "foreign" load. A step that saw foreign load is redone after the box is quiet.
import { cpuSeconds, machineBusySeconds } from './procstat.js'

/** Cores used by processes other than `ours` (and this one) since the last mark. */
export function foreignMeter(ours: () => number[]) {
  const pids = () => [process.pid, ...ours()]
  let at = performance.now()
  let busy0 = machineBusySeconds()
  let ours0 = new Map(pids().map((p) => [p, cpuSeconds(p)]))
  return {
    mark() {
      at = performance.now()
      busy0 = machineBusySeconds()
      ours0 = new Map(pids().map((p) => [p, cpuSeconds(p)]))
    },
    read(): number {
      const secs = (performance.now() - at) / 1000
      let mine = 0
      for (const p of pids()) mine += cpuSeconds(p) - (ours0.get(p) ?? 0)
      return secs > 0 ? Math.max(0, (machineBusySeconds() - busy0 - mine) / secs) : 0
    },
  }
}

/** Foreign load at or under this many cores counts as quiet (kernel threads, the odd cron). */
export const QUIET_CORES = 0.1

/** Waits (3 s samples, then 30 s sleeps) until foreign load is under QUIET_CORES; returns the seconds waited. */
export async function waitQuiet(ours: () => number[], log: (s: string) => void, maxWaitMs = 3 * 3600_000): Promise<number> {
  const started = performance.now()
  const meter = foreignMeter(ours)
  for (;;) {
    meter.mark()
    await new Promise((r) => setTimeout(r, 3000))
    const foreign = meter.read()
    if (foreign <= QUIET_CORES) return (performance.now() - started) / 1000
    if (performance.now() - started > maxWaitMs) throw new Error(`the machine stayed busy (${foreign.toFixed(2)} foreign cores) for ${maxWaitMs / 1000} s`)
    log(`machine busy (${foreign.toFixed(2)} cores used by other processes): waiting 30 s`)
    await new Promise((r) => setTimeout(r, 30_000))
  }
}
