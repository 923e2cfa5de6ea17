// Builds the browser apps the engine serves: esbuild bundles the compiled entries (tsc output in
// dist/engine/web/) into minified IIFEs next to them — widget.min.js (GET /widget.js: the SDK,
// the widget and its styles, all it loads into a host page) and console.min.js (GET /console.js).
// Run by `npm run build` after tsc and the SDK bundle.
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url))
export const WEB_BUNDLES = { widget: here('./widget.min.js'), console: here('./console.min.js') } as const

export async function bundleWeb(): Promise<Record<keyof typeof WEB_BUNDLES, number>> {
  const one = async (entry: string, outfile: string) => {
    const r = await build({
      entryPoints: [entry], outfile, bundle: true, minify: true, format: 'iife', platform: 'browser',
      target: ['es2020'], legalComments: 'none', metafile: true, logLevel: 'warning',
    })
    return r.metafile.outputs[Object.keys(r.metafile.outputs)[0] as string]?.bytes ?? 0
  }
  return {
    widget: await one(here('./widget/main.js'), WEB_BUNDLES.widget),
    console: await one(here('./console/main.js'), WEB_BUNDLES.console),
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  bundleWeb().then((b) => console.log(`web bundles: widget.min.js ${b.widget} bytes, console.min.js ${b.console} bytes`), (err: unknown) => {
    console.error(err)
    process.exit(1)
  })
}
