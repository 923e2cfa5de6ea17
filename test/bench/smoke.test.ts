// Keeps the bench from rotting: each scenario's real CLI at a tiny size, its one JSON line parsed.
// No timing assertions (timings belong in bench/ output, not in tests).
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const BENCH = fileURLToPath(new URL('../../bench/', import.meta.url))

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

function runBench(script: string, args: string[]): Promise<{ code: number | null; lines: string[]; stderr: string }> {
  const proc = spawn(process.execPath, [`${BENCH}${script}`, ...args, '--no-record', '--silent'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()))
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const timer = setTimeout(() => proc.kill('SIGTERM'), 100_000)
  return new Promise((resolve) => proc.on('close', (code) => {
    clearTimeout(timer)
    resolve({ code, lines: out.split('\n').filter((l) => l.trim() !== ''), stderr: err })
  }))
}

t.test('chat: Parley and the socket.io peer at a tiny rate deliver every message to both agents', async (t) => {
  const r = await runBench('chat.js', ['--targets', 'parley,socketio', '--conversations', '8', '--per-inbox', '4', '--rates', '20',
    '--step-seconds', '2', '--reps', '1', '--refine', '0', '--generators', '2', '--nodes', '2', '--grace-ms', '5000'])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.lines.length, 1, 'one JSON line')
  const f = JSON.parse(r.lines[0] ?? '{}') as Json
  t.match(f, { scenario: 'chat', mode: 'quick', codec: 'json', boundMs: 50, conversations: 8, ratios: {}, machine: { nproc: Number, node: String, redis: String, commit: String, command: String } })
  for (const name of ['parley', 'socketio']) {
    const target = f[name] as Json
    t.match(target.connections, { widgets: 8, agents: 4, rssPerConnKB: Number }, `${name}: every widget and agent connected`)
    const step = target.ramp[0] as Json
    t.equal(step.rate, 20)
    t.equal(step.sent, 40, `${name}: 20/s for 2 s`)
    t.equal(step.acked, step.sent, `${name}: every send acked`)
    t.equal(step.errors, 0, `${name}: no errors`)
    t.equal(step.expected, step.sent * 2, `${name}: two agents per conversation`)
    t.equal(step.delivered, step.expected, `${name}: delivered == expected`)
    t.equal(step.echoes, step.sent, `${name}: the widget gets its own message back`)
    for (const k of ['p50', 'p99', 'p999', 'max', 'serverCpu', 'serverRssMB', 'redisCpu', 'generatorCpu', 'deliveredPerSec']) t.type(step[k], 'number', `${name}: ${k}`)
    t.ok(target.equalLoad, `${name}: ran the equal-load step`)
  }
  t.type(f['ratios'].rssPerConn, 'number')
})

t.test('chat: the msgpack codec delivers too', async (t) => {
  const r = await runBench('chat.js', ['--targets', 'parley', '--codec', 'msgpack', '--conversations', '4', '--per-inbox', '4', '--rates', '20',
    '--step-seconds', '1', '--generators', '1', '--nodes', '1', '--grace-ms', '5000'])
  t.equal(r.code, 0, r.stderr)
  const f = JSON.parse(r.lines[0] ?? '{}') as Json
  t.equal(f['codec'], 'msgpack')
  const step = f['parley'].ramp[0] as Json
  t.equal(step.delivered, step.expected)
  t.equal(step.errors, 0)
})

t.test('connections: idle widgets on WORKERS=2 are held and measured', async (t) => {
  const r = await runBench('connections.js', ['--connections', '60', '--workers', '2', '--holders', '2', '--settle-ms', '200'])
  t.equal(r.code, 0, r.stderr)
  const f = JSON.parse(r.lines[0] ?? '{}') as Json
  t.match(f, { scenario: 'connections', target: 60, connected: 60, failed: 0, workers: 2, rssPerConnBytes: Number, connectPerSec: Number })
  t.match(f, { resumed: 60, resumeFailed: 0, resumePerSec: Number }, 'every widget came back with its session')
  t.equal(f['perWorker'].length, 2)
})

t.test('ceilings: the bare script and the bare publish each report a rate', async (t) => {
  const r = await runBench('ceilings.js', ['--seconds', '1', '--conversations', '20', '--clients', '4', '--inflight', '8'])
  t.equal(r.code, 0, r.stderr)
  const f = JSON.parse(r.lines[0] ?? '{}') as Json
  t.match(f, { scenario: 'ceilings', script: { messagesPerSec: Number, failed: 0, redisCpu: Number }, publish: { deliveriesPerSec: Number, frameBytes: Number } })
  t.ok(f['script'].messagesPerSec > 0)
  t.ok(f['publish'].deliveriesPerSec > 0)
})

t.test('script-cost: every variant of the append script still applies, loads and appends', async (t) => {
  const r = await runBench('script-cost.js', ['--seconds', '0.2', '--reps', '1', '--conversations', '10', '--inflight', '8'])
  t.equal(r.code, 0, r.stderr)
  const f = JSON.parse(r.lines[0] ?? '{}') as Json
  t.equal(f['scenario'], 'script-cost')
  for (const v of f['variants'] as Json[]) {
    t.ok(v['callsPerSec'] > 0, `${v['variant']} appended`)
    t.equal(v['failed'], 0, `${v['variant']}: every call answered 1`)
  }
  const full = (f['variants'] as Json[]).find((v) => v['variant'] === 'full')
  t.match(full, { sizes: { argBytes: Number, replyBytes: Number, eventBytes: Number, noticeBytes: Number, logEntryBytes: Number }, commands: { xadd: { perCall: 3 } } })
})
