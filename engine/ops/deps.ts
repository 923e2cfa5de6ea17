import type { Redis } from 'ioredis'
import type { Scripts } from '../../lua/scripts.js'
import type { EngineConfig } from '../config.js'
import type { ConversationReader } from '../conversations.js'
import type { Directory } from '../directory.js'
import type { Presence } from '../presence.js'

/** Everything an op may use. `now` is injectable so tests can drive time through the scripts. */
export type OpDeps = {
  config: EngineConfig
  redis: Redis
  directory: Directory
  presence: Presence
  scripts: Scripts
  reader: ConversationReader
  now: () => number
  /** conversation log hot tail length (MAXLEN ~) */
  hotTail: number
}
