// The op registry: protocol op name → handler (roles and run). One file per op or op family.
import { conversationList } from './conversation-list.js'
import { conversationOpen } from './conversation-open.js'
import { conversationGet, history, resume } from './conversation-read.js'
import type { OpDeps } from './deps.js'
import { messageSend } from './message-send.js'
import { ping } from './ping.js'
import type { Op } from './types.js'
import { typing } from './typing.js'

export const ops: Readonly<Record<string, Op<OpDeps>>> = {
  ping,
  'conversation.open': conversationOpen,
  'message.send': messageSend,
  history,
  resume,
  'conversation.get': conversationGet,
  'conversation.list': conversationList,
  typing,
}
