// Timed conversation changes: every interval, for each partition, the due snooze entries are read and
// one wakeSnoozed script per entry claims it and reopens its conversation (lua/sweeps.ts). The claim is atomic in Redis, so with many
// engine nodes each entry fires exactly once, and an entry due while no node ran fires on the next
// tick of whichever node starts. Every `autoResolveEveryTicks` ticks, one autoResolve script per idle
// open conversation of an inbox with an auto-resolve window resolves it.
import { keysFor } from '../lua/keys.js'
import type { Scripts } from '../lua/scripts.js'
import { autoResolve as autoResolveAll, wakeSnoozed } from '../lua/sweeps.js'
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

export type Reopened = { id: string; accountId: string; inboxId: string; assigneeId: string | null }

export type TickResult = { claimed: number; woken: number; resolved: number }

export function createScheduler(deps: SchedulerDeps) {
  const batch = deps.batch ?? 100
  const hotTail = deps.hotTail ?? 1000
  const autoResolveEvery = deps.autoResolveEveryTicks ?? 10
  let ticks = 0

  /** Runs one batch until it returns less than a full batch; the sums of its counts. */
  async function drain(batchRun: () => Promise<unknown[]>): Promise<[number, number]> {
    let first = 0
    let second = 0
    for (;;) {
      const reply = await batchRun()
      const n = Number(reply[1])
      first += n
      second += Number(reply[2] ?? 0)
      if (typeof reply[3] === 'string' && deps.onReopened !== undefined) await reopened(JSON.parse(reply[3]) as Reopened[])
      // a full batch read (element 4 where the sweep reports it) means more may be due; a round
      // that claimed nothing (another node took them all, or entries that cannot be claimed) ends it
      const read = reply[4] === undefined ? n : Number(reply[4])
      if (read < batch || n === 0 || periodic.isStopped()) return [first, second]
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
    const [claimed, woken] = await drain(() => wakeSnoozed(deps.scripts, k, { now: deps.now(), uid: newUid(), hotTail, limit: batch }))
    const [resolved] = autoResolve ? await drain(() => autoResolveAll(deps.scripts, k, { now: deps.now(), uid: newUid(), hotTail, limit: batch })) : [0]
    return { claimed, woken, resolved }
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
