// What an entry point (browser.ts, node.ts) supplies to the role factories: how to open a socket,
// whether a refusal's HTTP status is visible, the default storage and codecs, and wake-up signals.
import { jsonCodec } from './codec.js'
import { parseBase } from './socket.js'
import { checkStorage } from './storage.js'
import type { Codec, CommonOptions, Opener, StorageLike } from './types.js'

export type Platform = {
  /** the opener for options.WebSocket, or the platform's own */
  opener: (options: CommonOptions) => Opener
  /** null when the opener reports refusal statuses itself (Node with `ws`) */
  probe: (options: CommonOptions, httpBase: string) => (() => Promise<boolean>) | null
  defaultStorage: () => StorageLike
  codecs: Partial<Record<'msgpack', Codec>>
  /** calls `fn` when the page comes back (online, visible, focused); returns an unsubscribe */
  onWake: (fn: () => void) => () => void
}

/** Validates what both clients share; throws at once on a bad option. */
export function commonSetup(options: CommonOptions, platform: Platform): { codec: Codec; storage: StorageLike } {
  if (options === null || typeof options !== 'object') throw new TypeError('options are required: { url, … }')
  parseBase(options.url)
  const c = options.codec ?? 'json'
  let codec: Codec
  if (c === 'json') codec = jsonCodec
  else if (c === 'msgpack') {
    const m = platform.codecs.msgpack
    if (m === undefined) throw new TypeError("codec 'msgpack': import { msgpackCodec } from 'parley/client/msgpack' and pass it as `codec`")
    codec = m
  } else if (typeof c === 'object' && typeof c.encode === 'function' && typeof c.decode === 'function' && typeof c.subprotocol === 'string') codec = c
  else throw new TypeError("`codec` must be 'json', 'msgpack' or a codec object")
  for (const k of ['pingIntervalMs', 'pingTimeoutMs', 'requestTimeoutMs'] as const) {
    const v = options[k]
    if (v !== undefined && !(typeof v === 'number' && v > 0)) throw new TypeError(`\`${k}\` must be a positive number of milliseconds`)
  }
  const storage = options.storage === undefined ? platform.defaultStorage() : checkStorage(options.storage)
  return { codec, storage }
}
