import type { RedisClient as Redis } from '../../lua/client.js'
import type { Scripts } from '../../lua/scripts.js'
import type { EngineConfig } from '../config.js'
import type { ConversationReader } from '../conversations.js'
import type { Directory } from '../directory/index.js'
import type { Presence } from '../presence.js'
import type { Assignment } from '../assignment.js'
import type { RateLimiterMemory } from 'rate-limiter-flexible'
import type { Search } from '../search/search.js'
import type { AckLedger } from '../durability/acked.js'

/** Everything an op may use. `now` is injectable so tests can drive time through the scripts. */
export type OpDeps = {
  config: EngineConfig
  redis: Redis
  directory: Directory
  presence: Presence
  scripts: Scripts
  reader: ConversationReader
  assignment: Assignment
  /** manual (re)assignments per agent per minute */
  assignLimiter: RateLimiterMemory
  now: () => number
  /** conversation log hot tail length (MAXLEN ~) */
  hotTail: number
  /** full-text search over the archive (engine/search) */
  search?: Search
  /** the messages this node acknowledged lately, checked after a fan-out gap (engine/durability) */
  acked?: AckLedger
}
