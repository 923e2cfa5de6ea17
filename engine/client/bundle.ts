// Builds the browser SDK that the engine serves at GET /sdk.js: esbuild bundles the compiled
// browser entry (dist/engine/client/browser.js) into one minified IIFE, global `Parley`. Run by
// `npm run build` after tsc; the output sits next to it as parley.min.js. msgpack is not in it.
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

export const BUNDLE_FILE = fileURLToPath(new URL('./parley.min.js', import.meta.url))

export async function bundleSdk(outfile = BUNDLE_FILE, entry = fileURLToPath(new URL('./browser.js', import.meta.url))): Promise<number> {
  const r = await build({
    entryPoints: [entry], outfile, bundle: true, minify: true, format: 'iife', globalName: 'Parley',
    platform: 'browser', target: ['es2020'], legalComments: 'none', metafile: true, logLevel: 'warning',
  })
  return r.metafile.outputs[Object.keys(r.metafile.outputs)[0] as string]?.bytes ?? 0
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  bundleSdk().then((bytes) => console.log(`sdk bundle: ${BUNDLE_FILE} (${bytes} bytes)`), (err: unknown) => {
    console.error(err)
    process.exit(1)
  })
}
