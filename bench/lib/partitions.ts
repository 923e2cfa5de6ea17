// Spreading a bench's load over partitions the way the engine places accounts (partitionOf over
// DEFAULT_PARTITIONS): accounts are drawn (made up, or created through the admin API) until
// `count` distinct partitions are covered, the first account of each kept. All of them: every
// master of a cluster gets the share of partitions its slots hold (21/21/22 on 3).
import { DEFAULT_PARTITIONS, partitionOf } from '../../lua/keys.js'

export type PartitionAccount = { accountId: string; partition: number }

export function partitionPicker(count: number) {
  const want = Math.min(count, DEFAULT_PARTITIONS)
  if (!Number.isInteger(count) || count < 1) throw new Error(`partitions must be a whole number ≥ 1, got ${count}`)
  const kept = new Map<number, string>()
  let draws = 0
  return {
    /** true when the account covers a partition not covered yet (keep it) */
    offer(accountId: string): boolean {
      if (++draws > 100_000) throw new Error(`no ${want} distinct partitions in 100000 accounts`)
      const p = partitionOf(accountId, DEFAULT_PARTITIONS)
      if (kept.has(p) || kept.size >= want) return false
      kept.set(p, accountId)
      return true
    },
    done: () => kept.size >= want,
    draws: () => draws,
    /** by partition number */
    accounts: (): PartitionAccount[] => [...kept].map(([partition, accountId]) => ({ accountId, partition })).sort((a, b) => a.partition - b.partition),
  }
}

/** `count` made-up accounts in distinct partitions. */
export function accountsInPartitions(count: number, newAccount: () => string): PartitionAccount[] {
  const picker = partitionPicker(count)
  while (!picker.done()) picker.offer(newAccount())
  return picker.accounts()
}
