// Authentication at the WebSocket upgrade: a refused upgrade answers 401/403/429/503 with a JSON
// body and never becomes a socket. Headers are copied synchronously (uWS request objects die when
// the callback returns), `onAborted` is attached before any await, then `cork` + `upgrade`.
import { randomBytes } from 'node:crypto'
import type { HttpRequest, HttpResponse, us_socket_context_t } from 'uWebSockets.js'
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible'
import { connectionRateKey } from '../lua/keys.js'
import type { EngineConfig } from './config.js'
import type { ConnData, InboxRef, Principal } from './connection.js'
import type { Directory } from './directory/index.js'
import { AppError, toAppError } from './errors.js'
import { signSession, verifyIdentifierHash, verifySession } from './ids.js'
import type { Logger } from './log.js'
import type { Metrics } from './metrics.js'
import type { Presence } from './presence.js'
import { HTTP_STATUS, SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, type Codec, type Contact, type Inbox, type Role } from './protocol.js'
import { errorBody } from './http/respond.js'
import { textProblem } from './validate.js'

export type UpgradeInput = {
  role: Role
  query: URLSearchParams
  origin: string
  protocols: string[]
  ip: string
}

export type UpgradeDeps = {
  config: EngineConfig
  directory: Directory
  presence: Presence
  limiter: RateLimiterAbstract
  log: Logger
  metrics: Metrics
  isReady: () => boolean
  openConversation: (accountId: string, contactId: string, inboxId: string) => Promise<Record<string, unknown> | null>
}

/** `Sec-WebSocket-Protocol`: msgpack when offered, else JSON; nothing offered means JSON. */
export function chooseCodec(protocols: string[]): { codec: Codec; answer: string } | null {
  if (protocols.length === 0) return { codec: 'json', answer: '' }
  if (protocols.includes(SUBPROTOCOL_MSGPACK)) return { codec: 'msgpack', answer: SUBPROTOCOL_MSGPACK }
  if (protocols.includes(SUBPROTOCOL_JSON)) return { codec: 'json', answer: SUBPROTOCOL_JSON }
  return null
}

function limits(config: EngineConfig, messagesPerMinute: number) {
  return { maxFrameBytes: config.maxFrameBytes, maxContentChars: config.maxContentChars, messagesPerMinute }
}

/** Who an upgrade authenticated: what the connection keeps, plus what only its hello needs. */
type Authenticated =
  | { principal: Principal & { kind: 'agent' } }
  | { principal: Principal & { kind: 'contact' }; contact: Contact; inbox: Inbox; session: string }

export function createUpgrader(deps: UpgradeDeps) {
  const { config, directory, log, metrics } = deps

  // One InboxRef per inbox for all its widget connections on this node: a new one when the inbox's
  // settings changed (connections keep the settings they were opened with, as before), forgotten
  // once no connection holds it.
  const inboxRefs = new Map<string, WeakRef<InboxRef>>()
  const forgetRef = new FinalizationRegistry<string>((id) => {
    if (inboxRefs.get(id)?.deref() === undefined) inboxRefs.delete(id)
  })
  function inboxRef(inbox: Inbox): InboxRef {
    const known = inboxRefs.get(inbox.id)?.deref()
    if (known !== undefined && known.accountId === inbox.accountId && known.messagesPerMinute === inbox.messagesPerMinute &&
        known.autoAssign === inbox.autoAssign) return known
    const ref: InboxRef = Object.freeze({ id: inbox.id, accountId: inbox.accountId, messagesPerMinute: inbox.messagesPerMinute, autoAssign: inbox.autoAssign })
    inboxRefs.set(inbox.id, new WeakRef(ref))
    forgetRef.register(ref, inbox.id)
    return ref
  }

  async function rateLimit(ip: string): Promise<void> {
    try {
      await deps.limiter.consume(connectionRateKey(ip, config.partitions))
    } catch (rej) {
      if (rej instanceof RateLimiterRes) {
        throw new AppError('rate_limited', 'too many connection attempts from this address', { retryAfterMs: rej.msBeforeNext })
      }
      // the limiter's store failed (its in-memory insurance failed too): do not lock everyone out
      log.warn({ err: rej }, 'connection rate limiter unavailable')
    }
  }

  async function authenticateAgent(query: URLSearchParams): Promise<Authenticated> {
    const token = query.get('token') ?? ''
    const agent = token === '' ? null : await directory.findAgentByToken(token)
    if (agent === null) throw new AppError('unauthorized', 'unknown or missing agent token')
    return { principal: { kind: 'agent', agent } }
  }

  async function authenticateContact(query: URLSearchParams, origin: string): Promise<Authenticated> {
    const websiteToken = query.get('website_token') ?? ''
    const inbox = websiteToken === '' ? null : await directory.findInboxByWebsiteToken(websiteToken)
    if (inbox === null) throw new AppError('unauthorized', 'unknown or missing website_token')
    if (inbox.allowedOrigins.length > 0 && !inbox.allowedOrigins.includes(origin)) {
      throw new AppError('forbidden', 'this origin is not allowed for the inbox')
    }
    const identifier = query.get('identifier')
    const identifierHash = query.get('identifier_hash')
    const session = query.get('session')
    let contact = null
    if (identifier !== null && textProblem(identifier) !== null) {
      throw new AppError('bad_request', `\`identifier\` ${textProblem(identifier) ?? ''}`)
    }
    if (identifier !== null || identifierHash !== null) {
      // an identity claim without a valid proof is refused, never downgraded to anonymous
      if (identifier === null || identifierHash === null || identifier === '' || identifier.length > 255 ||
          !verifyIdentifierHash(inbox.hmacSecret, identifier, identifierHash)) {
        throw new AppError('unauthorized', 'identifier_hash does not match identifier')
      }
      contact = (await directory.findContactByIdentifier(inbox.accountId, identifier)) ??
        (await directory.createContact(inbox.accountId, inbox.id, identifier))
    } else if (session !== null && session !== '') {
      const contactId = verifySession(inbox.hmacSecret, inbox.id, session)
      if (contactId === null) throw new AppError('unauthorized', 'session is not valid for this inbox')
      // a genuine session whose contact is gone (data reset) starts a new anonymous contact
      contact = await directory.getContact(inbox.accountId, contactId)
    }
    contact ??= await directory.createContact(inbox.accountId, inbox.id, null)
    return {
      principal: { kind: 'contact', contactId: contact.id, inbox: inboxRef(inbox) },
      contact, inbox, session: signSession(inbox.hmacSecret, inbox.id, contact.id),
    }
  }

  async function hello(connId: string, who: Authenticated): Promise<Record<string, unknown>> {
    const base = { connectionId: connId, serverTime: Date.now(), heartbeatMs: config.heartbeatMs }
    if (!('contact' in who)) {
      return { ...base, role: 'agent', limits: limits(config, config.messagesPerMinuteDefault), agent: { ...who.principal.agent, online: true } }
    }
    const { contact, inbox, session } = who
    const [agentsOnline, conversation] = await Promise.all([
      deps.presence.inboxHasAgentsOnline(inbox.accountId, inbox.id),
      deps.openConversation(inbox.accountId, contact.id, inbox.id),
    ])
    return {
      ...base, role: 'contact', limits: limits(config, inbox.messagesPerMinute), contact, session,
      inbox: { id: inbox.id, name: inbox.name, agentsOnline }, conversation,
    }
  }

  /** Decides one upgrade; resolves to the socket's data, or throws an AppError for the refusal. */
  async function authenticate(input: UpgradeInput, codec: Codec): Promise<ConnData> {
    if (!deps.isReady()) throw new AppError('unavailable', 'the engine is not ready, retry shortly')
    await rateLimit(input.ip)
    const who = input.role === 'agent' ? await authenticateAgent(input.query) : await authenticateContact(input.query, input.origin)
    const { principal } = who
    const accountId = principal.kind === 'agent' ? principal.agent.accountId : principal.inbox.accountId
    const id = randomBytes(12).toString('base64url')
    const data: ConnData = {
      id, role: input.role, accountId, codec, principal,
      hello: await hello(id, who), garbage: 0, closed: false,
    }
    return data
  }

  /** The uWS `upgrade` handler for one role. */
  function handler(role: Role) {
    return (res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void => {
      let aborted = false
      res.onAborted(() => {
        aborted = true
      })
      const secKey = req.getHeader('sec-websocket-key')
      const secProtocol = req.getHeader('sec-websocket-protocol')
      const secExtensions = req.getHeader('sec-websocket-extensions')
      const input: UpgradeInput = {
        role,
        query: new URLSearchParams(req.getQuery() ?? ''),
        origin: req.getHeader('origin'),
        protocols: secProtocol.split(',').map((p) => p.trim()).filter((p) => p !== ''),
        ip: Buffer.from(res.getRemoteAddressAsText()).toString(),
      }
      const refuse = (status: string, code: string, body: string) => {
        metrics.upgrades.inc({ status: status.slice(0, 3) })
        metrics.errors.inc({ code })
        if (aborted) return
        res.cork(() => {
          res.writeStatus(status).writeHeader('content-type', 'application/json').end(body)
        })
      }
      const chosen = chooseCodec(input.protocols)
      if (chosen === null) {
        const msg = `offer ${SUBPROTOCOL_JSON} or ${SUBPROTOCOL_MSGPACK}`
        refuse(HTTP_STATUS.bad_request, 'bad_request', JSON.stringify(errorBody('bad_request', msg)))
        return
      }
      authenticate(input, chosen.codec).then(
        (data) => {
          if (aborted) return
          metrics.upgrades.inc({ status: '101' })
          // Not wrapped in res.cork(): in this uWS build, cork() after an asynchronous upgrade can
          // misread the adopted socket's state and close it right after `open` (uWebSockets
          // PR #1929, uWebSockets.js issue #1108) — seen here as ~1 in 8 fresh sockets dropping.
          // Issue 10 re-checked it (test/engine/upgrade-cork.test.ts drops sockets with res.cork,
          // the hello sent in `open` or on the next flush alike): HttpResponse::cork() runs its
          // HTTP epilogue whenever the adopted WebSocket still holds the cork at its address, and
          // no JS call can release that cork first; any other cork (another socket's) leaves the
          // upgrade's writes uncorked anyway. So uWS warns "writes must be made from within a
          // corked callback" once per upgrade and writes the 101 in ~24 small sends instead of
          // one, until uWS is upgraded to a build with PR #1929 (uWebSockets v20.79); then wrap
          // this in res.cork and drop the `todo` in that test.
          res.upgrade(data, secKey, chosen.answer, secExtensions, context)
        },
        (err: unknown) => {
          const e = toAppError(err)
          if (e.code === 'internal') log.error({ err }, 'upgrade failed')
          const status = e.code === 'rate_limited' ? HTTP_STATUS.rate_limited : HTTP_STATUS[e.code]
          refuse(status, e.code, JSON.stringify(errorBody(e.code, e.message, e.retryAfterMs)))
        },
      )
    }
  }

  return { handler, authenticate }
}

