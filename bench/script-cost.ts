// Scenario "script-cost": where the append script's Redis time goes. The script ceiling's load
// (bench/lib/append-load.ts: contacts appending to open conversations, many calls in flight) runs
// once per variant of appendMessage, each the real script with one part taken out, so the
// difference to `full` is that part's cost; per variant: calls/s, Redis CPU per call (INFO cpu),
// µs inside EVALSHA per call and the inner commands' share (INFO commandstats counts the commands a
// script calls, each with its own usec), and the sizes of what one call carries (argument, reply,
// partition event, fan-out notice, log entry). Variants only measure: they are never loaded by the
// engine, and some (no-emit, no-publish) would break it.
//   npm run bench:script-cost [-- --full] [--seconds 2] [--reps 3] [--variants full,no-publish,…] [--no-record]
//     [--baseline DIR]   adds variant `baseline`: the full script of another checkout's lua/ (an A/B)
import { pathToFileURL } from 'node:url'
import { appendMessageCall, createScripts, loadScriptSources, LUA_DIR, type Scripts } from '../lua/scripts.js'
import { appendAccounts, appendInput, appendLoad, createTargets, trimEvents, type AppendTarget } from './lib/append-load.js'
import { parseArgs } from './lib/args.js'
import { nodeFigures, type NodeSample } from './lib/nodestats.js'
import { appendRow, machine, measuredLoad, median, printLine, round, saveResults } from './lib/report.js'
import { exitCleanlyOnSignals } from './lib/stack.js'
import { startStore } from './lib/store.js'

/** A variant: Lua put between the shared prelude and the script body (a later `local` shadows the
 * prelude's helper), and text replacements in the body. */
type Variant = { name: string; what: string; prelude?: string; replace?: [string, string][]; dir?: string }

export const VARIANTS: Variant[] = [
  { name: 'full', what: 'the script as the engine runs it' },
  { name: 'no-notice-log', what: 'fan-out PUBLISH without the notice log (no TIME, no XADD MINID)',
    prelude: "local function publish_json(logKey, etype, h, private, dataJson)\n" +
      "  local body = cjson.encode({ t = etype, a = h.accountId, i = h.inboxId, c = h.contactId or '', p = private and 1 or 0 }) .. '\\n' .. dataJson\n" +
      "  rcall(PUBLISH, string.sub(logKey, 1, -5), '0-0 ' .. body)\nend" },
  { name: 'no-publish', what: 'no fan-out at all (no notice, no PUBLISH)', prelude: 'local function publish_json() end' },
  { name: 'no-emit', what: 'no partition event (no XADD of message + conversation)', prelude: 'local function emit_json() end' },
  { name: 'no-brief', what: 'no conversation brief built and encoded (the event and the reply carry {})',
    replace: [['local briefJson = cjson.encode(conv_brief(h))', "local briefJson = '{}'"]] },
  { name: 'no-dedupe', what: 'no echoId check and record (HGET, HSET, PEXPIRE)',
    replace: [['if a.echoId then', 'if false then'], ['if echoField then', 'if false then']] },
  { name: 'no-flood', what: 'no flood window (ZREMRANGEBYSCORE, ZCARD, ZADD, PEXPIRE)',
    replace: [["  rcall('ZREMRANGEBYSCORE', KEYS[6], '-inf', a.now - 60000)\n  if rcall('ZCARD', KEYS[6]) >= a.floodLimit then", '  if false then'],
      ["  rcall('ZADD', KEYS[6], a.now, a.uid) -- the flood window counts arrivals\n  rcall('PEXPIRE', KEYS[6], 60000)\n", '']] },
  { name: 'read-only', what: 'unpack ARGV, HGETALL, checks, encode the view: the floor of a call that writes nothing',
    replace: [['-- dedupe: a repeat returns the first message and writes nothing', 'do return { 1, "{}", cjson.encode(conv_view(h)), 0 } end']] },
  { name: 'plus-10-calls', what: 'ten more redis.call (ZCARD of the flood window): the price of one call from Lua, by difference',
    replace: [['local h = hgetall(KEYS[1])', "for _ = 1, 10 do rcall('ZCARD', KEYS[6]) end\nlocal h = hgetall(KEYS[1])"]] },
  { name: 'plus-4-encodes', what: 'four more cjson.encode of the message (about 440 B): the price of one encode, by difference',
    replace: [['local previousStatus = h.status', 'for _ = 1, 4 do cjson.encode(msg) end\nlocal previousStatus = h.status']] },
  { name: 'empty', what: 'EVALSHA with the same 11 keys and argument, unpack only: the cost of the call itself',
    replace: [['local h = hgetall(KEYS[1])', 'do return { 1, "{}", "{}", 0 } end\nlocal h = {}']] },
]

/** appendMessage's source with a variant applied (throws when a replacement no longer matches). */
export function variantSource(v: Variant): string {
  const src = loadScriptSources(v.dir ?? LUA_DIR).find((s) => s.name === 'appendMessage')
  if (src === undefined) throw new Error('appendMessage is not among the scripts')
  const at = src.lua.indexOf('local a = cmsgpack.unpack(ARGV[1])')
  if (at < 0) throw new Error('appendMessage: no ARGV unpack line to split at')
  let body = src.lua.slice(at)
  for (const [from, to] of v.replace ?? []) {
    if (!body.includes(from)) throw new Error(`variant ${v.name}: ${JSON.stringify(from.slice(0, 60))} is not in appendMessage any more`)
    body = body.replace(from, to)
  }
  return `${src.lua.slice(0, at)}${v.prelude ?? ''}\n${body}`
}

/** Inner commands per call: what a script called, from two commandstats samples. */
function innerCommands(before: NodeSample, after: NodeSample, calls: number) {
  const out: Record<string, { perCall: number; usPerCall: number }> = {}
  let usec = 0
  for (const [name, c] of Object.entries(after.commands)) {
    if (['evalsha', 'eval', 'info', 'xtrim', 'script|load', 'client|setname', 'client|setinfo'].includes(name)) continue
    const n = c.calls - (before.commands[name]?.calls ?? 0)
    const u = c.usec - (before.commands[name]?.usec ?? 0)
    if (n <= 0) continue
    usec += u
    out[name] = { perCall: round(n / calls, 2), usPerCall: round(u / calls, 2) }
  }
  return { usPerCall: round(usec / calls, 1), commands: Object.fromEntries(Object.entries(out).sort(([, a], [, b]) => b.usPerCall - a.usPerCall)) }
}

type Options = { seconds: number; reps: number; inflight: number; conversations: number }
type Run = { perSec: number; failed: number; redisUsPerCall: number; evalshaUs: number; inner: ReturnType<typeof innerCommands> }

/**
 * Every variant on one redis-server, in rounds (full, no-x, …, full, no-x, …): this box's speed
 * drifts by ±15 % over minutes, so a variant is compared with `full` of the same round and the
 * saving is the median of those per-round differences.
 */
async function measureAll(variants: readonly Variant[], o: Options, log: (s: string) => void) {
  const redis = await startStore({ kind: 'single' })
  const clients = [0, 1].map((i) => redis.connect(`parley-bench-cost-${i}`))
  try {
    const scripts = clients.map((c) => createScripts(c))
    const use = (v: Variant) => {
      const lua = variantSource(v)
      for (const c of clients) c.defineCommand('appendMessage', { numberOfKeys: 11, lua })
    }
    const accounts = appendAccounts(1)
    const targets = await createTargets(scripts[0]!, accounts, o.conversations)
    use(VARIANTS[0]!)
    const sizes = await callSizes(scripts[0]!, redis.client, targets[0]!)
    const stopTrim = trimEvents(redis.client, accounts)
    const load = appendLoad(scripts, targets, o.inflight)
    const runs = new Map<string, Run[]>(variants.map((v) => [v.name, []]))
    for (let rep = 0; rep < o.reps; rep++) {
      for (const v of variants) {
        use(v)
        await load(Math.min(0.5, o.seconds)) // warm-up: the script loaded (NOSCRIPT → EVAL once), caches warm
        const s0 = await redis.sample()
        const r = await load(o.seconds)
        const s1 = await redis.sample()
        const node = nodeFigures(s0, s1, r.seconds, r.done)[0]!
        const calls = Math.max(1, node.evalshaCalls)
        runs.get(v.name)!.push({
          perSec: r.done / r.seconds, failed: r.failed, redisUsPerCall: round((node.cpu * r.seconds * 1e6) / calls, 1),
          evalshaUs: node.evalshaUsPerCall ?? 0, inner: innerCommands(s0[0]!, s1[0]!, calls),
        })
      }
      log(`round ${rep + 1}: ${variants.map((v) => `${v.name} ${runs.get(v.name)!.at(-1)!.redisUsPerCall} µs`).join(', ')}`)
    }
    stopTrim()
    const base = runs.get('full')
    return variants.map((v) => {
      const rs = runs.get(v.name)!
      const mid = [...rs].sort((a, b) => a.perSec - b.perSec)[Math.floor(rs.length / 2)]!
      return {
        variant: v.name, what: v.what, callsPerSec: round(median(rs.map((r) => r.perSec))), runs: rs.map((r) => round(r.perSec)),
        failed: rs.reduce((s, r) => s + r.failed, 0), redisUsPerCall: round(median(rs.map((r) => r.redisUsPerCall)), 1),
        evalshaUsPerCall: round(median(rs.map((r) => r.evalshaUs)), 1), innerUsPerCall: mid.inner.usPerCall,
        luaUsPerCall: round(mid.evalshaUs - mid.inner.usPerCall, 1), commands: mid.inner.commands,
        /** median over rounds of (full − this variant) in Redis CPU per call: what the part taken out costs */
        savesUs: base === undefined || v.name === 'full' ? null : round(median(rs.map((r, i) => (base[i]?.redisUsPerCall ?? NaN) - r.redisUsPerCall)), 1),
        ...(v.name === 'full' ? { sizes } : {}),
      }
    })
  } finally {
    for (const c of clients) c.disconnect()
    await redis.stop()
  }
}

/** Bytes one append carries: its argument, its reply, the partition event, the notice, the log entry. */
async function callSizes(scripts: Scripts, client: Scripts['redis'], c: AppendTarget) {
  const call = appendMessageCall(c.account.k, appendInput(c, -1))
  const reply = await scripts.run(call)
  const last = async (key: string) => {
    const e = (await client.xrevrange(key, '+', '-', 'COUNT', 1))[0]
    return e === undefined ? 0 : e[1].reduce((s, f) => s + Buffer.byteLength(f), 0)
  }
  return {
    argBytes: call.args.reduce((s, a) => s + Buffer.byteLength(a), 0),
    replyBytes: reply.reduce<number>((s, r) => s + (typeof r === 'string' ? Buffer.byteLength(r) : 8), 0),
    eventBytes: await last(c.account.k.events), noticeBytes: await last(c.account.k.notices), logEntryBytes: await last(c.account.k.conversationLog(c.id)),
  }
}

async function main(): Promise<void> {
  exitCleanlyOnSignals()
  const args = parseArgs(process.argv.slice(2), process.env)
  const full = args.mode === 'full'
  const names = args.str('variants', VARIANTS.map((v) => v.name).join(',')).split(',')
  const variants = names.map((n) => {
    const v = VARIANTS.find((x) => x.name === n)
    if (v === undefined) throw new Error(`--variants: no variant ${n} (${VARIANTS.map((x) => x.name).join(', ')})`)
    return v
  })
  const baseline = args.str('baseline', '')
  if (baseline !== '') variants.push({ name: 'baseline', what: `the full script of ${baseline}`, dir: baseline.endsWith('/') ? baseline : `${baseline}/` })
  const o: Options = { seconds: args.num('seconds', full ? 4 : 2), reps: args.num('reps', full ? 5 : 3), inflight: args.num('inflight', 256), conversations: args.num('conversations', 2000) }
  const log = (s: string) => { if (!args.bool('silent')) process.stderr.write(`[script-cost] ${s}\n`) }
  const before = machine()
  const rows = await measureAll(variants, o, log)
  for (const r of rows) log(`${r.variant}: ${r.callsPerSec}/s, redis ${r.redisUsPerCall} µs/call${r.savesUs === null ? '' : ` (saves ${r.savesUs})`}, evalsha ${r.evalshaUsPerCall} µs (inner commands ${r.innerUsPerCall}, Lua ${r.luaUsPerCall})`)
  const figures = { scenario: 'script-cost', mode: args.mode, seconds: o.seconds, reps: o.reps, inflight: o.inflight, baseline: baseline === '' ? null : baseline, variants: rows, machine: before }
  printLine(figures)
  if (!args.bool('no-record')) {
    saveResults('script-cost', figures)
    appendRow('script-cost', before, args.mode, rows.map((r) => `${r.variant} ${r.callsPerSec}/s ${r.redisUsPerCall} µs`).join('; '), measuredLoad(figures, before))
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench script-cost failed: ${err instanceof Error ? err.stack : String(err)}\n`)
    process.exit(1)
  })
}
