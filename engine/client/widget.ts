// createWidgetClient: a website visitor (contact). Its session — the same contact after a reload —
// is kept in storage per website token (and per identifier, when the visitor is identified); the
// conversation the server says is open (hello.conversation) is held and followed automatically.
//
//   const client = createWidgetClient({ url: 'https://chat.example.com', websiteToken })
//   client.on('message.created', ({ message }) => render(message))
//   const conversation = await client.openConversation()
//   await client.send(conversation.id, 'Hello!')
import { createCore } from './client.js'
import { endpoint, httpBase } from './socket.js'
import { createStore, tag } from './storage.js'
import { commonSetup, type Platform } from './platform.js'
import type { Attributes, ContactConversation, ContactHello, OpParams, OpReply, OpsOf } from '../wire.js'
import type { Contact } from '../protocol.js'
import type { WidgetOptions } from './types.js'

type WidgetOp = OpsOf<'contact'>
type Args<K extends WidgetOp> = Record<string, never> extends OpParams<K> ? [params?: OpParams<K>, opts?: { timeoutMs?: number }] : [params: OpParams<K>, opts?: { timeoutMs?: number }]

export function widgetClient(options: WidgetOptions, platform: Platform) {
  const { codec, storage } = commonSetup(options, platform)
  if (typeof options.websiteToken !== 'string' || options.websiteToken === '') throw new TypeError('`websiteToken` is required (the inbox\'s website token)')
  const { identifier, identifierHash } = options
  if ((identifier === undefined) !== (identifierHash === undefined)) throw new TypeError('`identifier` and `identifierHash` go together')
  const kv = createStore(storage, `parley:w:${tag(options.websiteToken)}:`)
  let contact: Contact | null = null
  let inbox: ContactHello['inbox'] | null = null
  const saved = kv.read<{ session: string; identifier: string | null }>('session')
  let session = saved !== null && saved.identifier === (identifier ?? null) ? saved.session : undefined

  const core = createCore({
    options, codec, kv,
    opener: platform.opener(options),
    probe: platform.probe(options, httpBase(options.url)),
    url: () => endpoint(options.url, '/ws/widget', { website_token: options.websiteToken, session, identifier, identifier_hash: identifierHash }),
    hooks: {
      role: 'contact',
      onHello: (h) => {
        const hello = h as ContactHello
        contact = hello.contact
        session = hello.session
        kv.write('session', { session, identifier: identifier ?? null })
        if (hello.conversation !== null) core.held.follow(hello.conversation.id)
      },
      afterResync: async (_ctx, reconnect) => {
        const now = (core.api.hello as ContactHello).inbox
        const changed = inbox !== null && inbox.agentsOnline !== now.agentsOnline
        inbox = now
        if (reconnect && changed) core.emit('presence.updated', { agentsOnline: now.agentsOnline })
      },
      onPresence: (d) => {
        if (inbox !== null && typeof d.agentsOnline === 'boolean') inbox = { ...inbox, agentsOnline: d.agentsOnline }
      },
    },
  })
  const request = core.request as <K extends WidgetOp>(op: K, ...args: Args<K>) => Promise<OpReply<K>>
  const unwake = platform.onWake(() => core.api.reconnectNow())
  const close = core.api.close

  const client = Object.assign(core.api, {
    /** any contact op, typed: resolves with the reply's data, rejects with ParleyError (code, retryAfterMs) */
    request,
    /** the open/pending/snoozed conversation of this visitor, or a new one */
    openConversation: async (additionalAttributes?: Attributes): Promise<ContactConversation> => {
      const r = await request('conversation.open', additionalAttributes === undefined ? {} : { additionalAttributes })
      core.held.follow(r.conversation.id)
      return r.conversation
    },
    /** rate a resolved conversation, 1–5 */
    rate: async (conversationId: string, score: number, comment?: string) =>
      (await request('conversation.rate', comment === undefined ? { conversationId, score } : { conversationId, score, comment })).conversation,
    updateContact: async (patch: OpParams<'contact.update'>) => (contact = (await request('contact.update', patch)).contact),
    /** the visitor as the server knows it (after the first hello) */
    contact: () => contact,
    inbox: () => inbox,
    /** the session that makes the next connection the same contact */
    session: () => session ?? null,
    close: () => {
      unwake()
      close()
    },
  })
  core.start()
  return client
}
export type WidgetClient = ReturnType<typeof widgetClient>
