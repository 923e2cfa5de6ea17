/// <reference lib="dom" />
// GET /widget.js: the website widget, one tag on any page:
//   <script src="https://ENGINE/widget.js" data-website-token="…" async></script>
// Mounts a shadow root (isolated from the page's CSS) at the end of <body>, talks to the engine the
// script came from, and exposes window.parley (see README "Website widget"):
//   parley.setUser(identifier, { identifierHash, name, email }), parley.toggle('open'|'close'?),
//   parley.on('ready'|'message'|'open'|'close'|'error', fn) → unsubscribe, parley.reset()
// A `parley:ready` event is also dispatched on window, for pages whose code runs before the script.
import { createApp, type Identity, type WidgetEvent } from './app.js'
import { createView } from './view.js'

type Fn = (data?: unknown) => void
type User = { identifierHash?: string; name?: string; email?: string }

// only set while the script itself runs (not in a later DOMContentLoaded handler)
const current = document.currentScript as HTMLScriptElement | null

function boot(): void {
  const w = window as unknown as { parley?: unknown }
  if (w.parley !== undefined) return // loaded twice: the first one stays
  const script = current ?? document.querySelector<HTMLScriptElement>('script[data-website-token]')
  const token = script?.dataset['websiteToken'] ?? ''
  const url = new URL(script?.src ?? location.href).origin
  const userKey = `parley:user:${token}`
  const safe = (fn: () => Storage) => {
    try {
      return fn()
    } catch {
      return null // storage blocked (sandboxed iframe, privacy mode)
    }
  }
  const local = safe(() => localStorage)
  const session = safe(() => sessionStorage)

  const host = document.createElement('div')
  host.setAttribute('data-parley', '')
  host.style.setProperty('all', 'initial', 'important')
  const root = host.attachShadow({ mode: 'open' })
  const view = createView(root, script?.dataset['title'] ?? 'Chat with us')
  document.body.append(host)

  const listeners = new Map<WidgetEvent, Set<Fn>>()
  const emit = (ev: WidgetEvent, data?: unknown) => {
    for (const fn of listeners.get(ev) ?? []) {
      try {
        fn(data)
      } catch (err) {
        console.error('parley: a listener failed', err)
      }
    }
    if (ev === 'ready') window.dispatchEvent(new CustomEvent('parley:ready'))
  }
  if (token === '') {
    view.setError('Chat is not available on this page: the script tag has no data-website-token.')
    view.setOpen(false)
    view.launcher.addEventListener('click', () => view.setOpen(view.panel.hidden))
    return
  }
  const app = createApp({ url, websiteToken: token, view, emit, openStore: session })
  const stored = (): Identity | null => {
    try {
      const v = JSON.parse(local?.getItem(userKey) ?? 'null') as Identity | null
      return v !== null && typeof v.identifier === 'string' && typeof v.identifierHash === 'string' ? v : null
    } catch {
      return null
    }
  }
  app.start(stored())
  app.client().on('hello', (hello) => {
    const name = (hello as { inbox?: { name?: string } }).inbox?.name
    if (name !== undefined && script?.dataset['title'] === undefined) view.setTitle(name)
  })

  const parley = {
    /** identify the visitor; with identifierHash (HMAC of the identifier) the contact is verified and its history follows it */
    setUser(identifier: string, user: User = {}): void {
      const profile = { ...(user.name === undefined ? {} : { name: user.name }), ...(user.email === undefined ? {} : { email: user.email }) }
      const update = () => {
        if (Object.keys(profile).length > 0) app.client().updateContact(profile).catch((err: Error & { code?: string }) => emit('error', { code: err.code, message: err.message }))
      }
      const cur = stored()
      if (typeof identifier === 'string' && identifier !== '' && typeof user.identifierHash === 'string' && (cur?.identifier !== identifier || cur.identifierHash !== user.identifierHash)) {
        local?.setItem(userKey, JSON.stringify({ identifier, identifierHash: user.identifierHash }))
        app.restart({ identifier, identifierHash: user.identifierHash })
        const off = app.client().on('synced', () => {
          off()
          update()
        })
      } else if (app.ready) update()
      else parley.on('ready', function once() { parley.off('ready', once); update() })
    },
    toggle(state?: 'open' | 'close'): void {
      app.setOpen(state === undefined ? !app.isOpen : state === 'open', false)
    },
    on(ev: WidgetEvent, fn: Fn): () => void {
      if (typeof fn !== 'function') return () => {}
      let set = listeners.get(ev)
      if (set === undefined) listeners.set(ev, (set = new Set()))
      set.add(fn)
      if (ev === 'ready' && app.ready) queueMicrotask(() => fn())
      return () => parley.off(ev, fn)
    },
    off(ev: WidgetEvent, fn: Fn): void {
      listeners.get(ev)?.delete(fn)
    },
    /** forget the visitor (logout): a new anonymous contact, nothing of the previous one on screen */
    reset(): void {
      local?.removeItem(userKey)
      for (const k of Object.keys(local ?? {})) if (k.startsWith('parley:w:')) local?.removeItem(k)
      app.restart(null)
    },
    get isOpen(): boolean {
      return app.isOpen
    },
  }
  w.parley = parley
}

if (document.body === null) document.addEventListener('DOMContentLoaded', boot, { once: true })
else boot()
