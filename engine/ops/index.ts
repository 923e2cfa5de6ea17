// The op registry: protocol op name → handler (roles and run). One file per op or op family.
import { agentsList, conversationAssign, presenceSet } from './agents.js'
import { conversationList } from './conversation-list.js'
import { conversationOpen } from './conversation-open.js'
import { conversationRate } from './conversation-rate.js'
import { conversationGet, history, resume } from './conversation-read.js'
import { conversationStatus } from './conversation-status.js'
import { conversationUpdate } from './conversation-update.js'
import { contactUpdate } from './contact-update.js'
import type { OpDeps } from './deps.js'
import { messageSend } from './message-send.js'
import { messageDelete, messageUpdate } from './message-update.js'
import { ping } from './ping.js'
import { search } from './search.js'
import { seen } from './seen.js'
import type { Op } from './types.js'
import { typing } from './typing.js'
import type { OpName } from '../wire.js'

// keyed by engine/wire.ts `Ops`: the compiler keeps the registry and the protocol's types in step
export const ops: Readonly<Record<string, Op<OpDeps>> & Record<OpName, Op<OpDeps>>> = {
  ping,
  'conversation.open': conversationOpen,
  'message.send': messageSend,
  history,
  resume,
  'conversation.get': conversationGet,
  'conversation.list': conversationList,
  typing,
  seen,
  'conversation.status': conversationStatus,
  'conversation.update': conversationUpdate,
  'conversation.rate': conversationRate,
  'contact.update': contactUpdate,
  'presence.set': presenceSet,
  'agents.list': agentsList,
  'conversation.assign': conversationAssign,
  'message.update': messageUpdate,
  'message.delete': messageDelete,
  search,
}
