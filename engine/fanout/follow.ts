// Local sockets follow what is not a client event: a new connection joins its topics; presence
// deltas become widgets' `agentsOnline` changes; control notices (engine/control.ts) give an
// agent's sockets its new role and inboxes, or close them (4001); after a fan-out gap the
// partition's agents are read again (control notices are not in the notice log) and a gap past the
// log's window closes the partition's clients with 1012 (reconnect and resume).
import { partitionOf } from '../../lua/keys.js'
import { AGENT_CONTROL, INBOX_CONTROL, type AgentControl, type InboxControl } from '../control.js'
import type { Directory } from '../directory/index.js'
import { payloadOf } from '../frames.js'
import type { Presence } from '../presence.js'
import { CLOSE } from '../protocol.js'
import type { Socket, Sockets } from '../sockets/index.js'
import { accountTopic, contactTopic, inboxTopic, widgetsTopic, type Fanout, type Notice } from './fanout.js'

export function createFollow(deps: {
  directory: Directory
  presence: Presence
  sockets: Sockets
  /** the node's fan-out (made after this: it calls back into here) */
  fanout: () => Fanout
  partitions: number
}) {
  const { directory, presence, sockets, partitions } = deps
  /** the `agentsOnline` each inbox's local widgets were last told */
  const agentsOnlineSent = new Map<string, boolean>()

  /** A connection after its hello: its topics (an agent's inboxes need a directory read). */
  async function join(ws: Socket, hello: Readonly<Record<string, unknown>>): Promise<void> {
    const fanout = deps.fanout()
    const conn = ws.getUserData()
    if (conn.principal.kind === 'contact') {
      const inboxId = conn.principal.inbox.id
      fanout.subscribe(ws, contactTopic(conn.principal.contactId, inboxId))
      fanout.subscribe(ws, widgetsTopic(inboxId))
      const inbox = hello['inbox'] as { agentsOnline?: boolean } | undefined
      if (!agentsOnlineSent.has(inboxId)) agentsOnlineSent.set(inboxId, inbox?.agentsOnline === true)
      return
    }
    fanout.subscribe(ws, accountTopic(conn.accountId))
    const inboxes = await directory.visibleInboxIds(conn.principal.agent)
    if (conn.closed) return
    for (const id of inboxes) fanout.subscribe(ws, inboxTopic(id))
  }

  /** After a presence delta: widgets of the agent's inboxes get `agentsOnline` where it changed. */
  async function onPresence(n: Notice): Promise<void> {
    const agentId = ((JSON.parse(n.data) as { agent?: { id?: string } }).agent)?.id
    if (agentId === undefined) return
    const agent = await directory.getAgent(n.header.a, agentId)
    await refreshAgentsOnline(n.header.a, agent?.inboxIds ?? [])
  }

  /** Sends `agentsOnline` to the local widgets of these inboxes where it changed. */
  async function refreshAgentsOnline(accountId: string, inboxIds: readonly string[]): Promise<void> {
    const fanout = deps.fanout()
    for (const inboxId of inboxIds) {
      if (fanout.count(widgetsTopic(inboxId)) === 0) {
        agentsOnlineSent.delete(inboxId)
        continue
      }
      const online = await presence.inboxHasAgentsOnline(accountId, inboxId)
      if (agentsOnlineSent.get(inboxId) === online) continue
      agentsOnlineSent.set(inboxId, online)
      fanout.send(widgetsTopic(inboxId), payloadOf({ op: 'event', type: 'presence.updated', data: { agentsOnline: online } }))
    }
  }

  /** An administrator changed an agent or added an inbox: local sockets follow at once. */
  async function onControl(n: Notice): Promise<void> {
    const fanout = deps.fanout()
    const accountId = n.header.a
    const agentSockets = fanout.members(accountTopic(accountId))
    if (n.header.t === INBOX_CONTROL) {
      const { inboxId } = JSON.parse(n.data) as InboxControl
      for (const ws of agentSockets) {
        const conn = ws.getUserData()
        if (!conn.closed && conn.principal.kind === 'agent' && conn.principal.agent.role === 'administrator') fanout.subscribe(ws, inboxTopic(inboxId))
      }
      return
    }
    if (n.header.t !== AGENT_CONTROL) return
    const { agentId, revoked, inboxIds } = JSON.parse(n.data) as AgentControl
    // widgets of the inboxes it joined or left, on this node: does anyone answer there now?
    await refreshAgentsOnline(accountId, inboxIds ?? [])
    await refreshAgent(accountId, agentId, revoked, agentSockets)
  }

  /** One agent's local sockets take its current role and inboxes, or close when it is gone. */
  async function refreshAgent(accountId: string, agentId: string, revoked: boolean, agentSockets: Socket[]): Promise<void> {
    const fanout = deps.fanout()
    const mine = agentSockets.filter((ws) => {
      const conn = ws.getUserData()
      return !conn.closed && conn.principal.kind === 'agent' && conn.principal.agent.id === agentId
    })
    if (mine.length === 0) return
    const agent = revoked ? null : await directory.getAgent(accountId, agentId)
    if (agent === null) {
      for (const ws of mine) sockets.end(ws, CLOSE.revoked, 'credentials revoked: sign in again')
      return
    }
    const wanted = new Set((await directory.visibleInboxIds(agent)).map(inboxTopic))
    for (const ws of mine) {
      const conn = ws.getUserData()
      if (conn.closed) continue
      conn.principal = { kind: 'agent', agent }
      for (const topic of fanout.topicsOf(ws)) if (topic.startsWith(inboxTopic('')) && !wanted.has(topic)) fanout.unsubscribe(ws, topic)
      for (const topic of wanted) fanout.subscribe(ws, topic)
    }
  }

  /** After a fan-out gap of partition `p`: its local agents read again, its widgets' agentsOnline. */
  async function resynced(p: number): Promise<void> {
    const agents = new Map<string, Set<string>>()
    const widgetInboxes = new Map<string, Set<string>>()
    for (const ws of sockets.live) {
      const conn = ws.getUserData()
      if (conn.closed || partitionOf(conn.accountId, partitions) !== p) continue
      const into = conn.principal.kind === 'agent' ? agents : widgetInboxes
      const set = into.get(conn.accountId) ?? new Set<string>()
      set.add(conn.principal.kind === 'agent' ? conn.principal.agent.id : conn.principal.inbox.id)
      into.set(conn.accountId, set)
    }
    for (const [accountId, ids] of agents) {
      const agentSockets = deps.fanout().members(accountTopic(accountId))
      for (const id of ids) await refreshAgent(accountId, id, false, agentSockets)
    }
    for (const [accountId, inboxIds] of widgetInboxes) await refreshAgentsOnline(accountId, [...inboxIds])
  }

  /** A gap of partition `p` the notice log no longer holds: its local clients reconnect and resume. */
  function lost(p: number): void {
    for (const ws of [...sockets.live]) {
      if (partitionOf(ws.getUserData().accountId, partitions) === p) sockets.end(ws, CLOSE.reconnect, 'missed live events: reconnect and resume')
    }
  }

  return { join, onPresence, onControl, resynced, lost }
}
