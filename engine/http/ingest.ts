// API-channel ingest (PROTOCOL.md "HTTP"): POST /api/v1/inboxes/:inboxId/messages with the inbox's
// API token. Finds or creates the contact by identifier, reuses the contact's open conversation in
// the inbox or opens one, and appends the message as the contact's. `sourceId` is unique per inbox:
// a repeat returns the first message (and its conversation) and writes nothing.
import type { RedisClient as Redis } from '../../lua/client.js'
import type { AckLedger } from '../durability/acked.js'
import type { Sql } from 'postgres'
import type { TemplatedApp } from 'uWebSockets.js'
import { appendMessageCall, createConversationCall, json, type Scripts } from '../../lua/scripts.js'
import { keysFor, partitionOf } from '../../lua/keys.js'
import { createContactUpdater } from '../directory/contact-update.js'
import { archivedMessage } from '../archive/history.js'
import { conversationFromHash, messageFromEntry } from '../views.js'
import { overlayEdits } from '../messages/edits.js'
import type { Assignment } from '../assignment.js'
import type { Directory } from '../directory/index.js'
import { AppError } from '../errors.js'
import { newId, newUid } from '../ids.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import type { Rehydrator } from '../rehydrate.js'
import { DEDUPE_TTL_MS, readContent, SOURCE_TTL_MS } from '../ops/message-send.js'
import { scriptError } from '../ops/script-status.js'
import { assignReopened } from '../reopen.js'
import { optString, reqString } from '../validate.js'
import { bearer, jsonRoute } from './admin.js'

export type IngestDeps = {
  redis: Redis
  directory: Directory
  scripts: Scripts
  /** round robin for a new or reopened conversation of an auto-assigning inbox */
  assignment?: Assignment
  log: Logger
  metrics: Metrics
  partitions: number
  maxContentChars: number
  hotTail: number
  now: () => number
  /** a repeat whose conversation was evicted meanwhile brings it back from PostgreSQL */
  rehydrator?: Rehydrator | null
  /** a repeat whose first message has left the Redis hot tail is read from PostgreSQL */
  sql?: Sql | null
  /** the messages this node acknowledged lately, checked after a fan-out gap (engine/durability) */
  acked?: AckLedger
}

/** How long a client waits before asking again about a first message not archived yet. */
const SOURCE_RETRY_MS = 1000


export function registerIngestRoutes(app: TemplatedApp, deps: IngestDeps): void {
  const { redis, directory, scripts } = deps
  const contacts = createContactUpdater({ redis, directory, partitions: deps.partitions, now: deps.now })

  jsonRoute(app, deps, 'post', '/api/v1/inboxes/:inboxId/messages', 1, async ({ params, body, authorization }) => {
    const token = bearer(authorization)
    const inbox = token === '' ? null : await directory.findInboxByApiToken(token)
    if (inbox === null) throw new AppError('unauthorized', 'a valid inbox API bearer token is required')
    if (inbox.id !== params[0]) throw new AppError('forbidden', 'this token belongs to another inbox')

    const sourceId = reqString(body, 'sourceId', 255)
    const who = body['contact']
    if (typeof who !== 'object' || who === null || Array.isArray(who)) throw new AppError('bad_request', '`contact` must be an object with an `identifier`')
    const identifier = reqString(who as Record<string, unknown>, 'identifier', 255)
    const name = optString(who as Record<string, unknown>, 'name', 255)
    const content = readContent(body, deps.maxContentChars)

    const accountId = inbox.accountId
    const k = keysFor(partitionOf(accountId, deps.partitions))
    const loadConversation = async (id: unknown) => {
      let c = typeof id === 'string' ? conversationFromHash(await redis.hgetall(k.conversation(id))) : null
      if (c === null && typeof id === 'string' && deps.rehydrator != null && (await deps.rehydrator.restore(k.partition, id, accountId))) {
        c = conversationFromHash(await redis.hgetall(k.conversation(id)))
      }
      if (c === null) throw new AppError('internal', 'the conversation of a deduplicated message is gone')
      return c
    }

    /**
     * The first message of a repeated sourceId and its conversation, from the dedupe value
     * "<conversationId> <messageId>": read from the conversation log, or from PostgreSQL once it
     * left the hot tail (`unavailable` until the archive has it). A value written by an older
     * version is the message JSON itself.
     */
    const firstOf = async (value: string) => {
      if (value.startsWith('{')) {
        const message = JSON.parse(value) as Record<string, unknown>
        return { message, conversation: await loadConversation(message['conversationId']) }
      }
      const [conversationId = '', id = ''] = value.split(' ')
      const conversation = await loadConversation(conversationId)
      const [entry] = (await redis.xrange(k.conversationLog(conversationId), id, id)) as [string, string[]][]
      const live = entry === undefined ? null : messageFromEntry(entry[0], entry[1])
      const message = live ?? (deps.sql == null ? null : await archivedMessage(deps.sql, { accountId, conversationId, id, sourceId }))
      if (message === null) throw new AppError('unavailable', 'this sourceId was used for a message that is not yet archived; send it again shortly', { retryAfterMs: SOURCE_RETRY_MS })
      // edited or deleted since: the repeat answers with its current version (same id)
      const [current] = await overlayEdits(redis, k.conversationEdits(conversationId), [message])
      return { message: current ?? message, conversation }
    }

    // a repeat never opens a conversation: answer from the dedupe key before anything is written
    const first = await redis.get(k.sourceDedupe(inbox.id, sourceId))
    if (first !== null) return firstOf(first)

    let contact = await directory.findContactByIdentifier(accountId, identifier)
    contact ??= await directory.createContact(accountId, inbox.id, identifier)
    if (name !== undefined && name.trim() !== '' && contact.name === null) {
      contact = (await contacts.update(accountId, contact.id, { name: name.trim() })) ?? contact
    }

    const now = deps.now()
    const opened = await scripts.run(createConversationCall(k, {
      id: newId('cv'), accountId, inboxId: inbox.id, contactId: contact.id, now, uid: newUid(), additionalAttributes: '{}',
    }))
    if (opened[0] !== 1 && opened[0] !== 2) throw scriptError(opened)
    const conversationId = json(opened, 1)['id'] as string
    const assignment = deps.assignment
    if (opened[0] === 1 && inbox.autoAssign && assignment !== undefined) await assignment.autoAssign(accountId, inbox.id, conversationId)

    const uid = newUid()
    const reply = await scripts.run(appendMessageCall(k, {
      conversationId, inboxId: inbox.id, accountId, senderType: 'contact', senderId: contact.id, inboxes: null,
      content, contentType: 'text', contentAttributes: '{}', private: false, echoId: null, sourceId,
      now, uid, reopenUid: newUid(), floodLimit: inbox.messagesPerMinute,
      hotTail: deps.hotTail, dedupeTtlMs: DEDUPE_TTL_MS, sourceTtlMs: SOURCE_TTL_MS,
    }))
    // the same sourceId raced in from another request meanwhile
    if (reply[0] === 5) return firstOf(String(reply[1]))
    if (reply[0] !== 1 && reply[0] !== 2) throw scriptError(reply)
    const message = json(reply, 1)
    if (reply[0] === 1 && typeof message['id'] === 'string') deps.acked?.record(accountId, conversationId, message['id'], uid)
    let conversation = reply[0] === 1 || message['conversationId'] === conversationId
      ? json(reply, 2)
      : await loadConversation(message['conversationId'])
    // a message that reopened a resolved/snoozed conversation with nobody assigned: round robin again
    if (reply[0] === 1 && reply[3] === 1 && assignment !== undefined) {
      conversation = (await assignReopened({ directory, assignment }, { id: conversationId, accountId, inboxId: inbox.id, assigneeId: conversation['assigneeId'] })) ?? conversation
    }
    return { message, conversation }
  })
}
