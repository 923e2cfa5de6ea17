// Keeps the webhooks bench from rotting: its real CLI at a tiny size, its one JSON line parsed. No
// timing assertions; what is asserted is that every chat message of the step was delivered once.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const SCRIPT = fileURLToPath(new URL('../../bench/webhooks.js', import.meta.url))

t.test('webhooks: every message of the step delivered, signatures valid', async (t) => {
  const proc = spawn(process.execPath, [SCRIPT, '--rate', '20', '--seconds', '2', '--conversations', '4', '--no-record'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()))
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const timer = setTimeout(() => proc.kill('SIGTERM'), 100_000)
  const code = await new Promise<number | null>((resolve) => proc.on('close', resolve))
  clearTimeout(timer)
  t.equal(code, 0, err)
  const lines = out.split('\n').filter((l) => l.trim() !== '')
  t.equal(lines.length, 1, 'one JSON line')
  const f = JSON.parse(lines[0] ?? '{}') as Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
  t.match(f, { scenario: 'webhooks', rate: 20, chatSent: 40, chatAcked: 40, badSignatures: 0, dispatcherCpuUsPerDelivery: Number, deliveryLatencyMs: { p50: Number } })
  t.equal(f['deliveredAfterDrain'], f['chatSent'], 'one delivery per message once the backlog drained')
})
