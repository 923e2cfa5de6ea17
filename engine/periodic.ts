// Background passes shared by the scheduler, eviction and the presence/queue sweeps: one timer that
// never overlaps itself, and a per-partition fan-out whose failures are logged, not fatal.
import type { Logger } from './log.js'

/** Runs `pass` every `intervalMs`, skipping a tick while the previous pass is still running. */
export function createPeriodic(intervalMs: number, pass: () => Promise<unknown>) {
  let timer: NodeJS.Timeout | null = null
  let running: Promise<unknown> | null = null
  let stopped = false

  function start(): void {
    if (timer !== null) return
    stopped = false
    timer = setInterval(() => {
      if (running !== null) return
      running = pass().finally(() => {
        running = null
      })
    }, intervalMs)
    timer.unref()
  }

  /** Stops the timer and waits for a pass in flight. */
  async function stop(): Promise<void> {
    stopped = true
    if (timer !== null) clearInterval(timer)
    timer = null
    await running
  }

  return { start, stop, isStopped: () => stopped }
}

/** Runs `fn` for every partition at once and returns the results of those that succeeded. */
export async function eachPartition<T>(partitions: number, log: Logger, what: string, fn: (p: number) => Promise<T>): Promise<T[]> {
  const results = await Promise.allSettled(Array.from({ length: partitions }, (_, p) => fn(p)))
  const ok: T[] = []
  for (const r of results) {
    if (r.status === 'fulfilled') ok.push(r.value)
    else log.warn({ err: r.reason as unknown }, `${what} failed`)
  }
  return ok
}
