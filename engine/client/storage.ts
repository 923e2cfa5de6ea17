// Storage for the outbox and the widget session: the app's Web-Storage-like object, or memory.
// Values are JSON; a storage that throws (Safari private mode, quota) degrades to memory only.
import type { StorageLike } from './types.js'

export function memoryStorage(): StorageLike {
  const map = new Map<string, string>()
  return {
    getItem: (k) => map.get(k) ?? null,
    setItem: (k, v) => void map.set(k, String(v)),
    removeItem: (k) => void map.delete(k),
  }
}

/** localStorage when the page has a usable one, else memory. */
export function defaultBrowserStorage(): StorageLike {
  try {
    const ls = (globalThis as { localStorage?: StorageLike }).localStorage
    if (ls !== undefined) {
      ls.setItem('parley:probe', '1')
      ls.removeItem('parley:probe')
      return ls
    }
  } catch {
    // disabled or full: fall through
  }
  return memoryStorage()
}

export function checkStorage(s: unknown): StorageLike {
  const o = s as StorageLike | null
  if (o === null || typeof o !== 'object' || typeof o.getItem !== 'function' || typeof o.setItem !== 'function' || typeof o.removeItem !== 'function') {
    throw new TypeError('`storage` must have getItem, setItem and removeItem (like localStorage)')
  }
  return o
}

/** JSON reads and writes under one key prefix; never throws. */
export function createStore(storage: StorageLike, prefix: string) {
  return {
    read<T>(key: string): T | null {
      try {
        const raw = storage.getItem(prefix + key)
        return raw === null ? null : (JSON.parse(raw) as T)
      } catch {
        return null
      }
    },
    write(key: string, value: unknown): void {
      try {
        if (value === null) storage.removeItem(prefix + key)
        else storage.setItem(prefix + key, JSON.stringify(value))
      } catch {
        // quota or disabled storage: memory keeps working
      }
    },
  }
}
export type KeyValue = ReturnType<typeof createStore>

/** A short stable tag for a secret (FNV-1a), so storage keys never hold a token. */
export function tag(s: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return (h >>> 0).toString(36)
}
