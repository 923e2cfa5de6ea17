// A protocol client for tests (the `ws` package), JSON or msgpack, that records every frame.
import { randomUUID } from 'node:crypto'
import { Packr, Unpackr } from 'msgpackr'
import WebSocket from 'ws'
import type { Json } from './admin.js'

const packr = new Packr({ useRecords: false })
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true })

export type Refused = { refused: true; status: number; body: Json }

export type Client = {
  ws: WebSocket
  hello: Json
  frames: Json[]
  codec: 'json' | 'msgpack'
  send: (frame: unknown) => void
  sendRaw: (data: string | Buffer) => void
  request: (op: string, params?: Json, timeoutMs?: number) => Promise<Json>
  waitFor: (pred: (f: Json) => boolean, timeoutMs?: number) => Promise<Json>
  events: (type: string) => Json[]
  closed: Promise<{ code: number; reason: string }>
  close: () => Promise<void>
}

let nextRef = 1

export function connectRaw(url: string, opts: { codec?: 'json' | 'msgpack'; origin?: string; protocols?: string[] } = {}): Promise<Client | Refused> {
  const codec = opts.codec ?? 'json'
  const protocols = opts.protocols ?? [codec === 'json' ? 'parley.v1.json' : 'parley.v1.msgpack']
  const ws = new WebSocket(url, protocols, opts.origin === undefined ? {} : { origin: opts.origin })
  const frames: Json[] = []
  const waiters: { pred: (f: Json) => boolean; resolve: (f: Json) => void }[] = []
  let closeInfo = ''
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      closeInfo += `code ${code} ${reason.toString()}`
      resolve({ code, reason: reason.toString() })
    })
  })
  ws.on('error', (err) => {
    closeInfo += `error ${err.message} `
  })
  ws.on('message', (data: Buffer, isBinary) => {
    const frame = (isBinary ? unpackr.unpack(data) : JSON.parse(data.toString())) as Json
    frames.push(frame)
    for (const w of [...waiters]) {
      if (w.pred(frame)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(frame)
      }
    }
  })
  const waitFor = (pred: (f: Json) => boolean, timeoutMs = 5000) => {
    const found = frames.find(pred)
    if (found !== undefined) return Promise.resolve(found)
    return new Promise<Json>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for a frame (socket ${ws.readyState === WebSocket.OPEN ? 'open' : `closed ${closeInfo}`}); got ${JSON.stringify(frames.slice(-5))}`)), timeoutMs)
      waiters.push({ pred, resolve: (f) => { clearTimeout(timer); resolve(f) } })
    })
  }
  // like a client SDK, mints the echoId message.send requires when the caller gave none (a test
  // that means to leave it out passes `echoId: undefined`, or sends raw)
  const withEcho = (frame: unknown): unknown => {
    const f = frame as Record<string, unknown>
    return typeof f === 'object' && f !== null && f['op'] === 'message.send' && !Object.hasOwn(f, 'echoId')
      ? { ...f, echoId: `t-${randomUUID()}` }
      : frame
  }
  const send = (frame: unknown) => {
    const f = withEcho(frame)
    ws.send(codec === 'json' ? JSON.stringify(f) : packr.pack(f))
  }
  return new Promise((resolve, reject) => {
    ws.on('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ refused: true, status: res.statusCode ?? 0, body: body === '' ? {} : (JSON.parse(body) as Json) }))
    })
    ws.on('error', (err) => reject(err))
    ws.on('open', () => {
      waitFor((f) => f['op'] === 'hello').then((hello) => {
        resolve({
          ws, hello: hello['data'] as Json, frames, codec, send, sendRaw: (d) => ws.send(d), waitFor, closed,
          request: async (op, params = {}, timeoutMs) => {
            const ref = nextRef++
            send({ op, ref, ...params })
            return waitFor((f) => f['op'] === 'reply' && f['ref'] === ref, timeoutMs)
          },
          events: (type) => frames.filter((f) => f['op'] === 'event' && f['type'] === type),
          close: async () => {
            if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close()
            await closed
          },
        })
      }, reject)
    })
  })
}

export async function connect(url: string, opts: { codec?: 'json' | 'msgpack'; origin?: string } = {}): Promise<Client> {
  const c = await connectRaw(url, opts)
  if ('refused' in c) throw new Error(`upgrade refused: ${c.status} ${JSON.stringify(c.body)}`)
  return c
}

/** Every message of a conversation through `history`, oldest first, paging back (into PostgreSQL) `limit` at a time. */
export async function fullHistory(c: Client, conversationId: string, limit = 4): Promise<Json[]> {
  const pages: Json[][] = []
  let before: string | undefined
  for (let i = 0; i < 1000; i++) {
    const r = await c.request('history', { conversationId, limit, ...(before === undefined ? {} : { before }) })
    if (r['ok'] !== true) throw new Error(`history failed: ${JSON.stringify(r)}`)
    const messages = r['data'].messages as Json[]
    pages.unshift(messages)
    if (r['data'].more !== true || messages.length === 0) break
    before = messages[0]?.['id'] as string
  }
  return pages.flat()
}
