// Command-line flags shared by every scenario: `--full` (or BENCH_MODE=full) for the record run,
// `--name value` / `--name=value` for the rest. Scenarios read what they need with defaults.

export type Mode = 'quick' | 'full'

export type Args = {
  mode: Mode
  str(name: string, def: string): string
  num(name: string, def: number): number
  list(name: string, def: number[]): number[]
  bool(name: string): boolean
}

export function parseArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Args {
  const flags = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? ''
    if (!a.startsWith('--')) continue
    const eq = a.indexOf('=')
    if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1))
    else if (i + 1 < argv.length && !(argv[i + 1] ?? '').startsWith('--')) flags.set(a.slice(2), argv[++i] ?? '')
    else flags.set(a.slice(2), 'true')
  }
  const mode: Mode = flags.has('full') || env['BENCH_MODE'] === 'full' ? 'full' : 'quick'
  const num = (name: string, def: number) => {
    const raw = flags.get(name)
    if (raw === undefined) return def
    const n = Number(raw)
    if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${JSON.stringify(raw)}`)
    return n
  }
  return {
    mode,
    str: (name, def) => flags.get(name) ?? def,
    num,
    list: (name, def) => {
      const raw = flags.get(name)
      return raw === undefined ? def : raw.split(',').map((s) => {
        const n = Number(s.trim().replace(/k$/i, '000'))
        if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}: ${JSON.stringify(s)} is not a positive number`)
        return n
      })
    },
    bool: (name) => flags.has(name) && flags.get(name) !== 'false',
  }
}
