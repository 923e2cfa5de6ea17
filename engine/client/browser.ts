// The browser entry of `parley/client` (and of the /sdk.js bundle, global `Parley`): the page's
// WebSocket, localStorage, and reconnect-at-once on online / visible / focus. A browser hides the
// HTTP status of a refused upgrade; the SDK then asks GET /readyz: an engine that is up and ready
// but closed the upgrade without opening refused it, and the third refusal ends the client.
import { agentClient } from './agent.js'
import { onPageBack } from './browser-hooks.js'
import { ParleyError } from './errors.js'
import type { Platform } from './platform.js'
import { webSocketOpener } from './socket.js'
import { defaultBrowserStorage, memoryStorage } from './storage.js'
import type { AgentOptions, WebSocketConstructor, WidgetOptions } from './types.js'
import { widgetClient } from './widget.js'

type FetchLike = (url: string, init: Record<string, unknown>) => Promise<unknown>

/**
 * After a socket closed without opening: true when the engine answers and is ready (so the upgrade
 * was refused), false for an outage. GET /readyz is CORS-readable: 200 = ready, 503 = not ready;
 * where the status cannot be read, any answer at all (no-cors) counts as ready.
 */
export function reachable(httpBase: string): () => Promise<boolean> {
  return async () => {
    const f = (globalThis as { fetch?: FetchLike }).fetch
    if (f === undefined) return false
    const inPage = typeof (globalThis as { document?: unknown }).document !== 'undefined'
    const url = `${httpBase}/readyz`
    const timeout = new Promise<boolean>((r) => setTimeout(() => r(false), 5000))
    const probe = f(url, { cache: 'no-store' }).then(
      (res) => (res as { status?: number }).status === 200,
      () => (inPage ? f(url, { mode: 'no-cors', cache: 'no-store' }).then(() => true, () => false) : false),
    )
    return Promise.race([probe, timeout])
  }
}

export const browserPlatform: Platform = {
  opener: (o) => {
    const WS = o.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    if (WS === undefined) throw new TypeError('no WebSocket here: pass the `WebSocket` option')
    return webSocketOpener(WS)
  },
  probe: (_o, base) => reachable(base),
  defaultStorage: () => (typeof (globalThis as { document?: unknown }).document === 'undefined' ? memoryStorage() : defaultBrowserStorage()),
  codecs: {},
  onWake: onPageBack,
}

export function createWidgetClient(options: WidgetOptions) {
  return widgetClient(options, browserPlatform)
}

export function createAgentClient(options: AgentOptions) {
  return agentClient(options, browserPlatform)
}

export { ParleyError, memoryStorage }
export type { WidgetClient } from './widget.js'
export type { AgentClient } from './agent.js'
export type * from './types.js'
