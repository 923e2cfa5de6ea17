// The only place Redis key and channel names are built. Every key carries the partition hash tag
// `{p<N>}` of the account it belongs to, so every key one operation touches sits in one slot
// (Redis Cluster works unchanged) and a partition is the unit of archiving and scale-out.

/** FNV-1a 32-bit: a stable, dependency-free hash; the partition of an account never changes. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

export function partitionOf(accountId: string, partitions: number): number {
  return fnv1a(accountId) % partitions
}

export function tag(partition: number): string {
  return `{p${partition}}`
}

/** Keys of one partition. `p` is the partition number. */
export function keysFor(p: number) {
  const t = tag(p)
  return {
    partition: p,
    /** stream: every state change of the partition, the archiver's source (trimmed by MINID only) */
    events: `${t}:events`,
    /** hash: sha256(bearer token) -> "agent:<id>" | "api:<inboxId>" */
    tokens: `${t}:tokens`,
    /** hash: websiteToken -> inboxId */
    websites: `${t}:websites`,
    account: (id: string) => `${t}:acct:${id}`,
    accountInboxes: (id: string) => `${t}:acct:${id}:inboxes`,
    accountAgents: (id: string) => `${t}:acct:${id}:agents`,
    /** hash: contact identifier -> contactId, per account */
    accountIdentifiers: (id: string) => `${t}:acct:${id}:identifiers`,
    /** string counter: conversation displayId per account */
    accountDisplaySeq: (id: string) => `${t}:acct:${id}:displayseq`,
    /** sorted set: agentId -> last heartbeat ms (OnlineStatusTracker) */
    presence: (accountId: string) => `${t}:acct:${accountId}:presence`,
    /** hash: agentId -> chosen availability */
    availability: (accountId: string) => `${t}:acct:${accountId}:availability`,
    /** sorted set: "<agentId>|<connectionId>" -> last heartbeat ms, one member per live connection */
    agentConnections: (accountId: string) => `${t}:acct:${accountId}:conns`,
    inbox: (id: string) => `${t}:inbox:${id}`,
    inboxAgents: (id: string) => `${t}:inbox:${id}:agents`,
    agent: (id: string) => `${t}:agent:${id}`,
    contact: (id: string) => `${t}:contact:${id}`,
    /** sorted set: contactId -> last time anything touched the contact (connect, update, create); eviction's index */
    contactsTouched: `${t}:contacts:touched`,
    /** string: the contact's current (open/pending/snoozed) conversation id in an inbox */
    contactConversation: (contactId: string, inboxId: string) => `${t}:contact:${contactId}:inbox:${inboxId}:conv`,
    conversation: (id: string) => `${t}:conv:${id}`,
    conversationLog: (id: string) => `${t}:conv:${id}:log`,
    /** hash: "<senderType>:<senderId>:<echoId>" -> the first message's stream id (TTL) */
    conversationEchoes: (id: string) => `${t}:conv:${id}:echo`,
    /** sorted set: the flood window of a conversation's contact messages */
    conversationFlood: (id: string) => `${t}:conv:${id}:flood`,
    /** string: first message JSON for an inbox's sourceId (TTL) */
    sourceDedupe: (inboxId: string, sourceId: string) => `${t}:src:${inboxId}:${sourceId}`,
    /** sorted set: an inbox's conversations with one status, by lastActivityAt (derived in _lib.lua too) */
    inboxStatusList: (inboxId: string, status: string) => `${t}:inbox:${inboxId}:st:${status}`,
    /** sorted set: snoozed conversation ids by snoozedUntil (the wake-up schedule) */
    snoozed: `${t}:snoozed`,
    /** hash: inboxId -> autoResolveAfterMs, the inboxes of this partition with auto-resolve on */
    autoResolve: `${t}:autoresolve`,
    /** string with PX expiry: at most one archived seen write per viewer per window */
    seenThrottle: (conversationId: string, viewer: string) => `${t}:conv:${conversationId}:seen:${viewer}`,
    /** sorted set: an agent's open assigned conversations (its load; kept by set_list in _lib.lua) */
    agentOpen: (agentId: string) => `${t}:agent:${agentId}:open`,
    /** list: an inbox's round-robin rotation of agent ids (head = next) */
    inboxRotation: (inboxId: string) => `${t}:inbox:${inboxId}:rr`,
    /** sorted set: an inbox's conversations waiting for an assignee, by queued time */
    inboxQueue: (inboxId: string) => `${t}:inbox:${inboxId}:queue`,
    /** set: inbox ids of this partition with a non-empty assignment queue */
    queues: `${t}:queues`,
    /** sorted set: "<accountId>|<agentId>" -> last heartbeat, agents currently online (sweep index) */
    onlineIndex: `${t}:presence:online`,
    /** pub/sub channel the engine nodes use for fan-out of this partition */
    fanout: `${t}:fanout`,
    /** stream: the partition's fan-out notices of the last seconds (`publish` in _lib.lua); a node
     *  whose subscription dropped catches up from it. Always the channel name + ':log'. */
    notices: `${t}:fanout:log`,
  }
}

export type PartitionKeys = ReturnType<typeof keysFor>

/** Rate-limiter keys: not an account's, so they take the partition of the limited subject. */
export function connectionRateKey(ip: string, partitions: number): string {
  return `${tag(fnv1a(ip) % partitions)}:rl:conn:${ip}`
}

/** The slot hash tag of a key: the part inside the first `{…}`, as Redis Cluster hashes it. */
export function hashTagOf(key: string): string | null {
  const open = key.indexOf('{')
  if (open < 0) return null
  const close = key.indexOf('}', open + 1)
  if (close <= open + 1) return null
  return key.slice(open + 1, close)
}

/**
 * string: the archiver process that holds a consumer name of the `archiver` group, with a short TTL
 * it keeps renewing (archiver/identity.ts). Not an account's: its own hash tag.
 */
export function archiverConsumerKey(name: string): string {
  return `{archiver}:consumer:${name}`
}
