// A browser's "the page is back" signals: `online`, `visibilitychange` (to visible) and `focus`.
// iOS Safari and sleeping laptops keep a dead socket or a long backoff timer; these make the client
// reconnect (or ping its socket) at once instead.
type Target = { addEventListener(t: string, fn: () => void): void; removeEventListener(t: string, fn: () => void): void }

export function onPageBack(fn: () => void): () => void {
  const w = globalThis as unknown as Partial<Target> & { document?: Target & { visibilityState?: string } }
  if (typeof w.addEventListener !== 'function' || typeof w.removeEventListener !== 'function') return () => {}
  const win = w as Target
  const doc = w.document
  const visible = () => {
    if (doc?.visibilityState !== 'hidden') fn()
  }
  win.addEventListener('online', fn)
  win.addEventListener('focus', fn)
  doc?.addEventListener('visibilitychange', visible)
  return () => {
    win.removeEventListener('online', fn)
    win.removeEventListener('focus', fn)
    doc?.removeEventListener('visibilitychange', visible)
  }
}
