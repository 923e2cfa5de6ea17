// The append-script load both script benches drive (bench/ceilings.ts, bench/script-cost.ts):
// conversations created through the engine's typed wrapper, then appendMessage calls from a
// contact, each with a fresh echoId and uid, kept `inflight` deep over the given script clients for
// a number of seconds, the partitions' event streams trimmed as the archiver would.
import { keysFor, type PartitionKeys } from '../../lua/keys.js'
import { appendMessageCall, createConversationCall, type AppendMessageInput, type Scripts } from '../../lua/scripts.js'
import type { RedisClient } from '../../lua/client.js'
import { newId, newUid } from '../../engine/ids.js'
import { markerContent } from '../gen/drivers.js'
import { accountsInPartitions } from './partitions.js'

export type AppendAccount = { accountId: string; partition: number; inboxId: string; k: PartitionKeys }
export type AppendTarget = { id: string; contactId: string; account: AppendAccount }

/** One made-up account per partition (`partitions` of them), each with an inbox id. */
export function appendAccounts(partitions: number): AppendAccount[] {
  return accountsInPartitions(partitions, () => newId('a')).map((a) => ({ ...a, inboxId: newId('in'), k: keysFor(a.partition) }))
}

/** `count` open conversations dealt over the accounts in turn. */
export async function createTargets(scripts: Scripts, accounts: readonly AppendAccount[], count: number): Promise<AppendTarget[]> {
  const out: AppendTarget[] = []
  for (let i = 0; i < count; i++) {
    const id = newId('cv')
    const contactId = newId('ct')
    const account = accounts[i % accounts.length]!
    const { accountId, inboxId, k } = account
    await scripts.run(createConversationCall(k, { id, accountId, inboxId, contactId, now: Date.now(), uid: newUid(), additionalAttributes: '{}' }))
    out.push({ id, contactId, account })
  }
  return out
}

/** The contact's `n`-th message into conversation `c` (no flood limit in effect), as a widget's message.send. */
export function appendInput(c: AppendTarget, n: number): AppendMessageInput {
  return {
    conversationId: c.id, inboxId: null, accountId: c.account.accountId, senderType: 'contact', senderId: c.contactId, inboxes: null,
    content: markerContent(1, performance.now(), n), contentType: 'text', contentAttributes: '{}', private: false,
    echoId: `e${n}`, sourceId: null, now: Date.now(), uid: newUid(), reopenUid: newUid(), floodLimit: 1_000_000,
    hotTail: 1000, dedupeTtlMs: 86_400_000, sourceTtlMs: 7 * 86_400_000, brief: true, // as engine/ops/message-send.ts
  }
}

/** Keeps the events streams of `accounts` near 10k entries (the archiver's trim) until stopped. */
export function trimEvents(client: RedisClient, accounts: readonly AppendAccount[]): () => void {
  const timer = setInterval(() => {
    for (const a of accounts) client.xtrim(a.k.events, 'MAXLEN', '~', 10_000).catch(() => {})
  }, 1000)
  return () => clearInterval(timer)
}

/** Appends for `seconds`, `inflight` calls in flight spread over the script clients. */
export function appendLoad(scripts: readonly Scripts[], targets: readonly AppendTarget[], inflight: number) {
  let seq = 0
  return async (seconds: number): Promise<{ done: number; failed: number; seconds: number }> => {
    let done = 0
    let failed = 0
    const end = performance.now() + seconds * 1000
    const lane = async (s: Scripts) => {
      while (performance.now() < end) {
        const n = seq++
        const c = targets[n % targets.length]!
        const r = await s.run(appendMessageCall(c.account.k, appendInput(c, n)))
        if (r[0] === 1) done++
        else failed++
      }
    }
    const t0 = performance.now()
    await Promise.all(scripts.flatMap((s) => Array.from({ length: Math.ceil(inflight / scripts.length) }, () => lane(s))))
    return { done, failed, seconds: (performance.now() - t0) / 1000 }
  }
}
