// A tiny typed event emitter whose handlers can never throw into the SDK: an exception in an app's
// handler is caught and reported as an `error` event (code `handler`), never rethrown.
import { ParleyError } from './errors.js'

type Handler<T> = (data: T) => void

export function createEmitter<E extends { error: ParleyError }>() {
  const handlers = new Map<keyof E, Set<Handler<never>>>()

  function on<K extends keyof E>(type: K, fn: Handler<E[K]>): () => void {
    if (typeof fn !== 'function') throw new TypeError(`on(${String(type)}): the handler must be a function`)
    let set = handlers.get(type)
    if (set === undefined) handlers.set(type, (set = new Set()))
    set.add(fn as Handler<never>)
    return () => off(type, fn)
  }

  function off<K extends keyof E>(type: K, fn: Handler<E[K]>): void {
    handlers.get(type)?.delete(fn as Handler<never>)
  }

  function emit<K extends keyof E>(type: K, data: E[K]): void {
    const set = handlers.get(type)
    if (set === undefined) return
    for (const fn of [...set]) {
      try {
        (fn as Handler<E[K]>)(data)
      } catch (err) {
        if (type === 'error') {
          // the app's error handler threw: nowhere left to report it but the console
          ;(globalThis as { console?: { error(...a: unknown[]): void } }).console?.error('parley: an error handler threw', err)
          continue
        }
        const e = new ParleyError('handler', `a "${String(type)}" handler threw: ${err instanceof Error ? err.message : String(err)}`)
        e.cause = err
        emit('error', e as E['error'])
      }
    }
  }

  return { on, off, emit }
}
export type Emitter<E extends { error: ParleyError }> = ReturnType<typeof createEmitter<E>>
