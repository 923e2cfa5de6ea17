// Timed conversation changes: every interval, for each partition, the due snooze entries are read and
// one wakeSnoozed script per entry claims it and reopens its conversation (lua/sweeps.ts). The claim is atomic in Redis, so with many
// engine nodes each entry fires exactly once, and an entry due while no node ran fires on the next
// tick of whichever node starts. Every `autoResolveEveryTicks` ticks, one autoResolve script per idle
// open conversation of an inbox with an auto-resolve window resolves it.
import { keysFor } from '../lua/keys.js'
import type { Scripts } from '../lua/scripts.js'
import { autoResolve as autoResolveAll, wakeSnoozed, type BatchPass, type WokenConversation } from '../lua/sweeps.js'
import { newUid } from './ids.js'
import type { Logger } from './log.js'
import { createPeriodic, eachPartition } from './periodic.js'

export type SchedulerDeps = {
  scripts: Scripts
  partitions: number
  now: () => number
  intervalMs: number
  log: Logger
  /** conversation log hot tail for the activity messages (MAXLEN ~) */
  hotTail?: number
  /** entries claimed per script call; a full batch is followed by another call at once */
  batch?: number
  /** auto-resolve runs on every n-th tick (the first included); default 10 */
  autoResolveEveryTicks?: number
  /** called for each conversation a snooze wake-up reopened (auto assignment hooks in here) */
  onReopened?: (c: Reopened) => Promise<unknown>
}

export type Reopened = WokenConversation

export type TickResult = { claimed: number; woken: number; resolved: number }

export function createScheduler(deps: SchedulerDeps) {
  const batch = deps.batch ?? 100
  const hotTail = deps.hotTail ?? 1000
  const autoResolveEvery = deps.autoResolveEveryTicks ?? 10
  let ticks = 0

  /**
   * Runs a sweep's batches while they read full batches (more may be due) and change something (a
   * round another node took entirely, or one whose entries cannot be claimed, ends it): the sums.
   */
  async function drain(pass: () => Promise<BatchPass & { woken?: Reopened[] }>): Promise<{ done: number; woken: number }> {
    const total = { done: 0, woken: 0 }
    for (;;) {
      const r = await pass()
      total.done += r.done
      total.woken += r.woken?.length ?? 0
      if (r.woken !== undefined && r.woken.length > 0 && deps.onReopened !== undefined) await reopened(r.woken)
      if (r.read < batch || r.done === 0 || periodic.isStopped()) return total
    }
  }

  async function reopened(list: Reopened[]): Promise<void> {
    for (const c of list) {
      try {
        await deps.onReopened?.(c)
      } catch (err) {
        deps.log.warn({ err, conversationId: c.id }, 'after-wake-up hook failed')
      }
    }
  }

  async function partitionPass(p: number, autoResolve: boolean): Promise<TickResult> {
    const k = keysFor(p)
    const wake = await drain(() => wakeSnoozed(deps.scripts, k, { now: deps.now(), uid: newUid(), hotTail, limit: batch }))
    const resolved = autoResolve ? (await drain(() => autoResolveAll(deps.scripts, k, { now: deps.now(), uid: newUid(), hotTail, limit: batch }))).done : 0
    return { claimed: wake.done, woken: wake.woken, resolved }
  }

  /** One pass over every partition (tests call it directly). */
  async function tick(): Promise<TickResult> {
    const autoResolve = ticks++ % autoResolveEvery === 0
    const total = { claimed: 0, woken: 0, resolved: 0 }
    for (const r of await eachPartition(deps.partitions, deps.log, 'scheduler pass', (p) => partitionPass(p, autoResolve))) {
      total.claimed += r.claimed
      total.woken += r.woken
      total.resolved += r.resolved
    }
    if (total.woken > 0 || total.resolved > 0) deps.log.debug(total, 'scheduled conversation changes')
    return total
  }

  const periodic = createPeriodic(deps.intervalMs, tick)

  return { start: periodic.start, stop: periodic.stop, tick }
}

export type Scheduler = ReturnType<typeof createScheduler>
