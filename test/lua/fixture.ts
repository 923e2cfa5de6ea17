// A real Redis with one tenant (account, inbox, agents, a contact) for script tests: scripts run
// through their builders and createScripts(redis).run, time is driven through `now`.
import { Redis } from 'ioredis'
import { parseEvent, splitNotice, type StreamEvent } from '../../lua/codec.js'
import { keysFor, partitionOf } from '../../lua/keys.js'
import { appendMessageCall, createConversationCall, createScripts, json, type AppendMessageInput } from '../../lua/scripts.js'
import { createDirectory } from '../../engine/directory/index.js'
import { newId, newUid } from '../../engine/ids.js'
import { startTestRedis } from '../helpers/stack.js'

type T = { teardown(fn: () => unknown): void }

export const PARTITIONS = 4

export async function scriptFixture(t: T) {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url, { maxRetriesPerRequest: 1 })
  t.teardown(() => redis.quit())
  const scripts = createScripts(redis)
  const directory = createDirectory({ redis, partitions: PARTITIONS })
  const account = await directory.createAccount('Acme')
  const { inbox } = await directory.createInbox(account.id, { name: 'Web', allowedOrigins: [], messagesPerMinute: 1000, autoAssign: true })
  const { inbox: otherInbox } = await directory.createInbox(account.id, { name: 'Other', allowedOrigins: [], messagesPerMinute: 1000, autoAssign: true })
  const { agent } = await directory.createAgent(account.id, { name: 'Ada', role: 'agent', inboxIds: [inbox.id], maxConversations: null })
  const { agent: outsider } = await directory.createAgent(account.id, { name: 'Out', role: 'agent', inboxIds: [otherInbox.id], maxConversations: null })
  const contact = await directory.createContact(account.id, inbox.id, null)
  const k = keysFor(partitionOf(account.id, PARTITIONS))

  /** Opens (or returns) the contact's conversation in the inbox. */
  async function open(now: number, contactId = contact.id, inboxId = inbox.id): Promise<Record<string, unknown>> {
    const reply = await scripts.run(createConversationCall(k, {
      id: newId('cv'), accountId: account.id, inboxId, contactId, now, uid: newUid(), additionalAttributes: '{}',
    }))
    return json(reply, 1)
  }

  async function send(conversationId: string, now: number, opts: Partial<AppendMessageInput> = {}): Promise<unknown[]> {
    const fromAgent = opts.senderType === 'agent'
    return scripts.run(appendMessageCall(k, {
      conversationId, inboxId: null, accountId: account.id, senderType: 'contact', senderId: fromAgent ? agent.id : contact.id,
      inboxes: null, content: 'hello', contentType: 'text', contentAttributes: '{}', private: false, echoId: null, sourceId: null,
      now, uid: newUid(), reopenUid: newUid(), floodLimit: 1000, hotTail: 1000, dedupeTtlMs: 60_000, sourceTtlMs: 60_000,
      ...opts,
    }))
  }

  async function events(type?: string): Promise<StreamEvent[]> {
    const entries = (await redis.xrange(k.events, '-', '+')) as [string, string[]][]
    return entries.map(([id, f]) => parseEvent(id, f)).filter((e): e is StreamEvent => e !== null && (type === undefined || e.type === type))
  }

  async function log(conversationId: string): Promise<Record<string, unknown>[]> {
    const entries = (await redis.xrange(k.conversationLog(conversationId), '-', '+')) as [string, string[]][]
    return entries.map(([id, f]) => ({ ...(JSON.parse(f[1] as string) as Record<string, unknown>), id }))
  }

  /** Collects the fan-out notices of the partition until `stop`. */
  async function listen() {
    const sub = new Redis(server.url)
    const notices: Record<string, any>[] = [] // eslint-disable-line @typescript-eslint/no-explicit-any
    sub.on('message', (_c: string, m: string) => {
      const n = splitNotice(m)
      if (n !== null) notices.push({ ...n.header, d: JSON.parse(n.data) as unknown })
    })
    await sub.subscribe(k.fanout)
    t.teardown(() => sub.quit())
    return {
      notices,
      /** waits for published notices to arrive (a PING round trip on the subscriber connection) */
      settle: async () => { await redis.ping(); await new Promise((r) => setTimeout(r, 30)) },
    }
  }

  return { server, redis, scripts, directory, account, inbox, otherInbox, agent, outsider, contact, k, open, send, events, log, listen }
}
