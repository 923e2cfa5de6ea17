// createAgentClient: an agent (or administrator) of an account. Beyond the shared core it lists,
// fetches, assigns and changes conversations; lists it ran are re-run on every reconnect (first page)
// so conversations created while it was away show up, and presence is refreshed once it used it.
//
//   const client = createAgentClient({ url: 'https://chat.example.com', token })
//   client.on('conversation.created', ({ conversation }) => addToInbox(conversation))
//   const { conversations } = await client.list({ status: 'open', assignee: 'me' })
//   await client.send(conversations[0].id, 'On it!')
import { createCore } from './client.js'
import { endpoint, httpBase } from './socket.js'
import { createStore, tag } from './storage.js'
import { commonSetup, type Platform } from './platform.js'
import type { Agent, AgentHello, Conversation, ConversationStatus, OpParams, OpReply, OpsOf } from '../wire.js'
import type { AgentOptions } from './types.js'

type AgentOp = OpsOf<'agent'>
type Args<K extends AgentOp> = Record<string, never> extends OpParams<K> ? [params?: OpParams<K>, opts?: { timeoutMs?: number }] : [params: OpParams<K>, opts?: { timeoutMs?: number }]
type ListParams = OpParams<'conversation.list'>

/** list filters remembered for resync, at most */
const MAX_LISTS = 8

export function agentClient(options: AgentOptions, platform: Platform) {
  const { codec, storage } = commonSetup(options, platform)
  if (typeof options.token !== 'string' || options.token === '') throw new TypeError('`token` is required (the agent\'s access token)')
  const kv = createStore(storage, `parley:a:${tag(options.token)}:`)
  let me: Agent | null = null
  const lists = new Map<string, ListParams>()
  let agents: Map<string, Agent> | null = null

  const core = createCore({
    options, codec, kv,
    opener: platform.opener(options),
    probe: platform.probe(options, httpBase(options.url)),
    url: () => endpoint(options.url, '/ws/agent', { token: options.token }),
    hooks: {
      role: 'agent',
      onHello: (h) => void (me = (h as AgentHello).agent),
      beforeResync: async (ctx) => {
        for (const params of lists.values()) {
          const r = await ctx.call('conversation.list', params)
          for (const c of r['conversations'] as Conversation[]) ctx.fresh.set(c.id, c)
        }
      },
      afterResync: async (ctx, reconnect) => {
        if (agents === null || !reconnect) return
        const r = await ctx.call('agents.list', {})
        for (const a of r['agents'] as Agent[]) {
          const before = agents.get(a.id)
          agents.set(a.id, a)
          if (before === undefined || before.online !== a.online || before.availability !== a.availability) {
            core.emit('presence.updated', { agent: { id: a.id, accountId: a.accountId, online: a.online, availability: a.availability } })
          }
        }
      },
      onPresence: (d) => {
        const a = d.agent
        const known = a === undefined ? undefined : agents?.get(a.id)
        if (a !== undefined && known !== undefined) agents?.set(a.id, { ...known, online: a.online, availability: a.availability })
      },
    },
  })
  const request = core.request as <K extends AgentOp>(op: K, ...args: Args<K>) => Promise<OpReply<K>>
  const unwake = platform.onWake(() => core.api.reconnectNow())
  const close = core.api.close
  const conv = async (p: Promise<{ conversation: Conversation }>) => (await p).conversation

  const client = Object.assign(core.api, {
    /** any agent op, typed: resolves with the reply's data, rejects with ParleyError (code, retryAfterMs) */
    request,
    /** conversation.list; the filter is remembered and re-run (first page) after every reconnect */
    list: async (params: ListParams = {}) => {
      if (params.cursor === undefined || params.cursor === null) {
        const { cursor: _c, ...filter } = params
        const key = JSON.stringify(filter)
        if (!lists.has(key) && lists.size < MAX_LISTS) lists.set(key, filter)
      }
      return request('conversation.list', params)
    },
    /** conversation.get; the conversation is held and its messages followed from now on */
    get: async (conversationId: string) => {
      const c = await conv(request('conversation.get', { conversationId }) as Promise<{ conversation: Conversation }>)
      core.held.follow(c.id)
      return c
    },
    assign: (conversationId: string, assigneeId: string | null, expectedAssigneeId?: string | null) =>
      conv(request('conversation.assign', expectedAssigneeId === undefined ? { conversationId, assigneeId } : { conversationId, assigneeId, expectedAssigneeId })),
    setStatus: (conversationId: string, status: ConversationStatus, snoozedUntil?: number) =>
      conv(request('conversation.status', snoozedUntil === undefined ? { conversationId, status } : { conversationId, status, snoozedUntil })),
    update: (conversationId: string, patch: Omit<OpParams<'conversation.update'>, 'conversationId'>) =>
      conv(request('conversation.update', { ...patch, conversationId })),
    setPresence: async (availability: Agent['availability']) => (me = (await request('presence.set', { availability })).agent),
    /** agents.list; presence is kept current from here on (and refreshed after reconnects) */
    agents: async () => {
      const r = await request('agents.list')
      agents = new Map(r.agents.map((a) => [a.id, a]))
      return r.agents
    },
    /** the signed-in agent (after the first hello) */
    me: () => me,
    close: () => {
      unwake()
      close()
    },
  })
  core.start()
  return client
}
export type AgentClient = ReturnType<typeof agentClient>
