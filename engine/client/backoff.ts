// Reconnect delays: exponential backoff with full jitter (AWS architecture blog's "Full Jitter"):
// delay = random(0, min(maxMs, baseMs · 2^attempt)). Bounded, and spread so a fleet of clients that
// lost the same node does not come back in one wave.
import type { Backoff } from './types.js'

export function createBackoff(opts: Backoff = {}, random: () => number = Math.random) {
  const baseMs = opts.baseMs ?? 500
  const maxMs = opts.maxMs ?? 30_000
  if (!(baseMs > 0) || !(maxMs >= baseMs)) throw new TypeError('backoff: need 0 < baseMs <= maxMs')
  let attempt = 0
  return {
    /** the next delay, and count the attempt */
    next(): number {
      const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30))
      attempt++
      return Math.floor(random() * cap)
    },
    reset(): void {
      attempt = 0
    },
    get attempt() {
      return attempt
    },
  }
}
