// How the load generator speaks to each system under test. Both drivers open widgets (one
// conversation each) and agents, send `message.send` with an ack, and hand every frame an agent
// or widget receives to the same hooks. Parley frames are scanned for the bench marker without
// decoding (JSON text and msgpack both carry the content as raw UTF-8), so the generator spends
// its CPU on sockets, not on parsing; socket.io-client decodes its frames itself.
import { Packr, Unpackr } from 'msgpackr'
import { io, type Socket as IoSocket } from 'socket.io-client'
import WebSocket from 'ws'

export type Codec = 'json' | 'msgpack'
export type DriverName = 'parley' | 'socketio'

export type Hooks = {
  /** a frame an agent received that may carry a bench message */
  agentFrame: (data: Buffer | string) => void
  /** a widget's own message coming back as an event */
  widgetEcho: (data: Buffer | string) => void
  /** the ack of a send: null = ok, else the error code */
  ack: (error: string | null) => void
  /** a connection closed that the bench did not close (with the close code or reason) */
  dropped: (role: 'widget' | 'agent', why: string) => void
}

export type Widget = { conversationId: string; send: (content: string, echoId: string) => void; close: () => void }
export type Agent = { close: () => void }

export type GroupRef = { inboxId: string; websiteToken: string; agentToken: string }

export type Driver = {
  widget: (url: string, group: GroupRef) => Promise<Widget>
  agent: (url: string, group: GroupRef) => Promise<Agent>
}

const MARKER = 'bm|'

/** The step and send time a bench message content carries: `bm|<step>|<sendMs>|…`. */
export function readMarker(data: Buffer | string): { step: number; t: number } | null {
  const text = typeof data === 'string' ? data : null
  const at = text !== null ? text.indexOf(MARKER) : (data as Buffer).indexOf(MARKER)
  if (at < 0) return null
  const slice = text !== null ? text.slice(at + 3, at + 40) : (data as Buffer).toString('latin1', at + 3, at + 40)
  const bar1 = slice.indexOf('|')
  const bar2 = slice.indexOf('|', bar1 + 1)
  if (bar1 < 0 || bar2 < 0) return null
  return { step: Number(slice.slice(0, bar1)), t: Number(slice.slice(bar1 + 1, bar2)) }
}

export function markerContent(step: number, t: number, seq: number): string {
  return `${MARKER}${step}|${t.toFixed(3)}|${seq}|hello from the bench, how can I get a refund?`
}

const packr = new Packr({ useRecords: false })
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true })

function openWs(url: string, codec: Codec, localAddress: string | undefined): Promise<{ ws: WebSocket; hello: Record<string, unknown> }> {
  const ws = new WebSocket(url, [codec === 'json' ? 'parley.v1.json' : 'parley.v1.msgpack'], {
    perMessageDeflate: false,
    ...(localAddress === undefined ? {} : { localAddress }),
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`connect ${url}: timed out`)) }, 30_000)
    ws.once('error', (err) => { clearTimeout(timer); reject(err) })
    ws.once('unexpected-response', (_req, res) => { clearTimeout(timer); ws.terminate(); reject(new Error(`upgrade refused: ${res.statusCode}`)) })
    ws.once('message', (data: Buffer, isBinary) => {
      clearTimeout(timer)
      const frame = (isBinary ? unpackr.unpack(data) : JSON.parse(data.toString())) as Record<string, unknown>
      if (frame['op'] !== 'hello') return reject(new Error(`expected hello, got ${data.toString().slice(0, 200)}`))
      resolve({ ws, hello: frame['data'] as Record<string, unknown> })
    })
  })
}

/** A frame that is a reply: `{"op":"reply"` in JSON, or the string "reply" among msgpack's first bytes. */
function isReply(data: Buffer, isBinary: boolean): boolean {
  if (!isBinary) return data.length > 12 && data[7] === 0x72 /* r of "reply" */ && data.toString('latin1', 0, 13) === '{"op":"reply"'
  const at = data.indexOf('reply')
  return at >= 0 && at < 12
}

function replyError(data: Buffer, isBinary: boolean): string | null {
  if (!isBinary) {
    if (data.indexOf('"ok":true') >= 0) return null
    const frame = JSON.parse(data.toString()) as { error?: { code?: string } }
    return frame.error?.code ?? 'unknown'
  }
  const frame = unpackr.unpack(data) as { ok?: boolean; error?: { code?: string } }
  return frame.ok === true ? null : (frame.error?.code ?? 'unknown')
}

export function parleyDriver(codec: Codec, hooks: Hooks, localAddress?: string): Driver {
  const encode = (frame: unknown) => (codec === 'json' ? JSON.stringify(frame) : packr.pack(frame))
  let ref = 0
  return {
    async widget(url, group) {
      const { ws } = await openWs(`${url}/ws/widget?website_token=${encodeURIComponent(group.websiteToken)}`, codec, localAddress)
      const openRef = ++ref
      const conversationId = await new Promise<string>((resolve, reject) => {
        const onOpen = (data: Buffer, isBinary: boolean) => {
          const frame = (isBinary ? unpackr.unpack(data) : JSON.parse(data.toString())) as Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
          if (frame['op'] !== 'reply' || frame['ref'] !== openRef) return
          ws.off('message', onOpen)
          if (frame['ok'] !== true) return reject(new Error(`conversation.open failed: ${JSON.stringify(frame['error'])}`))
          resolve(frame['data'].conversation.id as string)
        }
        ws.on('message', onOpen)
        ws.send(encode({ op: 'conversation.open', ref: openRef }))
      })
      ws.on('message', (data: Buffer, isBinary) => {
        if (isReply(data, isBinary)) hooks.ack(replyError(data, isBinary))
        else hooks.widgetEcho(data)
      })
      let closing = false
      ws.on('close', (code, reason) => { if (!closing) hooks.dropped('widget', `${code} ${reason.toString()}`) })
      return {
        conversationId,
        send: (content, echoId) => ws.send(encode({ op: 'message.send', ref: ++ref, conversationId, content, echoId })),
        close: () => { closing = true; ws.terminate() },
      }
    },
    async agent(url, group) {
      const { ws } = await openWs(`${url}/ws/agent?token=${encodeURIComponent(group.agentToken)}`, codec, localAddress)
      ws.on('message', (data: Buffer) => hooks.agentFrame(data))
      let closing = false
      ws.on('close', (code, reason) => { if (!closing) hooks.dropped('agent', `${code} ${reason.toString()}`) })
      return { close: () => { closing = true; ws.terminate() } }
    },
  }
}

function ioConnect(url: string, auth: Record<string, string>): Promise<IoSocket> {
  const socket = io(url, { transports: ['websocket'], auth, forceNew: true, reconnection: false, timeout: 30_000 })
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket))
    socket.once('connect_error', (err) => reject(err))
  })
}

export function socketioDriver(hooks: Hooks): Driver {
  return {
    async widget(url, group) {
      const socket = await ioConnect(url, { role: 'widget', inboxId: group.inboxId })
      const opened = (await socket.timeout(30_000).emitWithAck('conversation.open', {})) as { ok: boolean; data: { conversation: { id: string } } }
      if (opened.ok !== true) throw new Error('conversation.open failed')
      const conversationId = opened.data.conversation.id
      socket.on('message.created', (payload: { message: { content: string } }) => hooks.widgetEcho(payload.message.content))
      const onAck = (res: { ok: boolean; error?: { code: string } }) => hooks.ack(res.ok ? null : (res.error?.code ?? 'unknown'))
      let closing = false
      socket.on('disconnect', (reason) => { if (!closing) hooks.dropped('widget', reason) })
      return {
        conversationId,
        send: (content, echoId) => { socket.emit('message.send', { conversationId, content, echoId }, onAck) },
        close: () => { closing = true; socket.disconnect() },
      }
    },
    async agent(url, group) {
      const socket = await ioConnect(url, { role: 'agent', inboxId: group.inboxId })
      socket.on('message.created', (payload: { message: { content: string } }) => hooks.agentFrame(payload.message.content))
      let closing = false
      socket.on('disconnect', (reason) => { if (!closing) hooks.dropped('agent', reason) })
      return { close: () => { closing = true; socket.disconnect() } }
    },
  }
}
