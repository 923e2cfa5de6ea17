// The Node entry of `parley/client`: `ws` as the WebSocket (Node 20 has none), memory storage by
// default, and msgpack available as codec: 'msgpack'. With `ws` a refused upgrade's HTTP status is
// read (`unexpected-response`), so 401/403 are told apart from an outage without probing; with a
// `WebSocket` option of the app's the browser rule applies (see browser.ts).
import WebSocket from 'ws'
import { agentClient } from './agent.js'
import { reachable } from './browser.js'
import { ParleyError } from './errors.js'
import { msgpackCodec } from './msgpack.js'
import type { Platform } from './platform.js'
import { webSocketOpener } from './socket.js'
import { memoryStorage } from './storage.js'
import type { AgentOptions, Opener, Refusal, WidgetOptions } from './types.js'
import { widgetClient } from './widget.js'

const MAX_BODY = 4096

/** `ws` with the refusal's status and body ({"error":{code,message,retryAfterMs}}) passed on. */
export const wsOpener: Opener = (url, subprotocol, h) => {
  const ws = new WebSocket(url, subprotocol)
  let opened = false
  let refused: Refusal | undefined
  let done = false
  let sawResponse = false
  const finish = (code: number, reason: string) => {
    if (done) return
    done = true
    h.close(code, reason, opened, refused)
  }
  ws.on('unexpected-response', (_req, res) => {
    sawResponse = true
    let body = ''
    res.on('data', (d: Buffer) => {
      if (body.length < MAX_BODY) body += d.toString()
    })
    res.on('end', () => {
      refused = { status: res.statusCode ?? 0 }
      try {
        const e = (JSON.parse(body) as { error?: { code?: string; message?: string; retryAfterMs?: number } }).error
        if (e?.code !== undefined) refused.code = e.code
        if (e?.message !== undefined) refused.message = e.message
        if (typeof e?.retryAfterMs === 'number') refused.retryAfterMs = e.retryAfterMs
      } catch {
        // not JSON: the status says enough
      }
      ws.terminate()
      finish(1006, `HTTP ${refused.status}`)
    })
    res.on('error', () => finish(1006, 'HTTP error'))
    res.on('aborted', () => finish(1006, 'HTTP aborted'))
  })
  ws.on('open', () => {
    opened = true
    h.open()
  })
  ws.on('message', (data: Buffer, isBinary: boolean) => h.message(isBinary ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : data.toString('utf8')))
  ws.on('error', () => {})
  ws.on('close', (code: number, reason: Buffer) => {
    // after an unexpected response its body's end tells (with the status)
    if (!sawResponse || refused !== undefined) finish(code, reason.toString())
  })
  return {
    send: (d) => ws.send(d),
    close: (code, reason) => {
      try {
        if (ws.readyState === WebSocket.CONNECTING) ws.terminate()
        else ws.close(code, reason)
      } catch {
        ws.terminate()
      }
    },
  }
}

export const nodePlatform: Platform = {
  opener: (o) => (o.WebSocket === undefined ? wsOpener : webSocketOpener(o.WebSocket)),
  probe: (o, base) => (o.WebSocket === undefined ? null : reachable(base)),
  defaultStorage: memoryStorage,
  codecs: { msgpack: msgpackCodec },
  onWake: () => () => {},
}

export function createWidgetClient(options: WidgetOptions) {
  return widgetClient(options, nodePlatform)
}

export function createAgentClient(options: AgentOptions) {
  return agentClient(options, nodePlatform)
}

export { ParleyError, memoryStorage, msgpackCodec }
export type { WidgetClient } from './widget.js'
export type { AgentClient } from './agent.js'
export type * from './types.js'
