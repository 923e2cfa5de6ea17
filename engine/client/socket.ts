// Endpoint URLs and the WHATWG WebSocket adapter (a browser's, or any constructor given as the
// `WebSocket` option). Such a WebSocket hides the HTTP status of a refused upgrade: it only closes
// without having opened (see connection.ts for how the SDK tells a refusal from an outage).
import type { Opener, WebSocketConstructor } from './types.js'

/** ws(s)://host/ws/<role>?query from the base URL the app gave (http(s) or ws(s)). */
export function endpoint(base: string, path: '/ws/widget' | '/ws/agent', query: Record<string, string | undefined>): string {
  const u = parseBase(base)
  const proto = u.protocol === 'https:' || u.protocol === 'wss:' ? 'wss:' : 'ws:'
  const qs = Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')
  return `${proto}//${u.host}${u.pathname.replace(/\/+$/, '')}${path}${qs === '' ? '' : `?${qs}`}`
}

/** The http(s) twin of the base URL (for the reachability probe). */
export function httpBase(base: string): string {
  const u = parseBase(base)
  const proto = u.protocol === 'https:' || u.protocol === 'wss:' ? 'https:' : 'http:'
  return `${proto}//${u.host}${u.pathname.replace(/\/+$/, '')}`
}

export function parseBase(base: unknown): URL {
  if (typeof base !== 'string' || base.trim() === '') throw new TypeError('`url` is required: the engine\'s base URL, e.g. https://chat.example.com')
  let u: URL
  try {
    u = new URL(base)
  } catch {
    throw new TypeError(`\`url\` is not a URL: ${JSON.stringify(base)}`)
  }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol)) throw new TypeError(`\`url\` must be http(s):// or ws(s)://, not ${u.protocol}`)
  return u
}

export function webSocketOpener(WS: WebSocketConstructor): Opener {
  if (typeof WS !== 'function') throw new TypeError('`WebSocket` must be a WebSocket constructor')
  return (url, subprotocol, h) => {
    const ws = new WS(url, subprotocol)
    ws.binaryType = 'arraybuffer'
    let opened = false
    let done = false
    ws.onopen = () => {
      opened = true
      h.open()
    }
    ws.onmessage = (ev) => h.message(ev.data as string | ArrayBuffer)
    ws.onerror = () => {}
    ws.onclose = (ev) => {
      if (done) return
      done = true
      h.close(ev.code, ev.reason, opened)
    }
    return {
      send: (d) => ws.send(d),
      close: (code, reason) => {
        try {
          ws.close(code, reason)
        } catch {
          ws.close()
        }
      },
    }
  }
}
