// Loads uWebSockets.js and refuses to run on anything but its native binary. The package we
// install (@trufflesuite/uws-js-unofficial, aliased as uWebSockets.js) silently falls back to a
// slow pure-JS shim when its binary does not load; running on it would defeat the engine's purpose.
import { createRequire } from 'node:module'

export type Uws = typeof import('uWebSockets.js')

export class NativeUwsError extends Error {
  override name = 'NativeUwsError'
}

/** The native addon exports its compressor constants and helpers; the fallback only `App`. */
export function isNativeUws(mod: unknown): boolean {
  if (typeof mod !== 'object' || mod === null) return false
  const m = mod as Record<string, unknown>
  return typeof m['App'] === 'function' && typeof m['getParts'] === 'function' && typeof m['SHARED_COMPRESSOR'] === 'number'
}

export function loadNativeUws(): Uws {
  const require = createRequire(import.meta.url)
  const mod: unknown = require('uWebSockets.js')
  if (!isNativeUws(mod)) {
    throw new NativeUwsError(
      `uWebSockets.js did not load its native binary (platform ${process.platform}-${process.arch}, ` +
        `Node ABI ${process.versions.modules}${process.env['UWS_USE_FALLBACK'] ? ', UWS_USE_FALLBACK is set' : ''}); ` +
        'refusing to start on the slow JavaScript fallback. Use Node 20 on linux-x64 and reinstall with `npm ci`.',
    )
  }
  return mod as Uws
}
