// WORKERS=n: one primary, n engine processes listening on one port (SO_REUSEPORT), each accepting
// connections; signals reach them all.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs'
import t from 'tap'
import { createTenant } from '../helpers/admin.js'
import { connect, type Client } from '../helpers/client.js'
import { exited, startEngine } from '../helpers/engine.js'
import { startTestRedis } from '../helpers/stack.js'

function childrenOf(pid: number): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((n) => {
    try {
      const stat = readFileSync(`/proc/${n}/stat`, 'utf8')
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid
    } catch {
      return false
    }
  }).map(Number)
}

/** Established IPv4 TCP connections a process holds whose local port is `port`. */
function acceptedOn(pid: number, port: number): number {
  const inodes = new Set<string>()
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (m?.[1] !== undefined) inodes.add(m[1])
    } catch {
      // closed meanwhile
    }
  }
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).filter((line) => {
    const f = line.trim().split(/\s+/)
    return f[1]?.endsWith(`:${hexPort}`) === true && f[3] === '01' && inodes.has(f[9] ?? '')
  }).length
}

t.test('WORKERS=2 serves one port from two processes that both accept connections', async (t) => {
  const redis = await startTestRedis(t)
  const engine = await startEngine(t, { redisUrl: redis.url, env: { WORKERS: '2', CONN_RATE_POINTS: '100000', OPS_PER_SECOND: '10000' } })
  let workers: number[] = []
  for (let i = 0; i < 100 && workers.length < 2; i++) {
    workers = childrenOf(engine.proc.pid ?? -1)
    await new Promise((r) => setTimeout(r, 100))
  }
  t.equal(workers.length, 2, 'the primary forked two workers')

  const tenant = await createTenant(engine.http, { agents: 1 })
  const site = encodeURIComponent(tenant.inbox['websiteToken'] as string)
  const clients: Client[] = []
  t.teardown(() => Promise.all(clients.map((c) => c.close())))
  for (let i = 0; i < 40; i++) clients.push(await connect(`${engine.ws}/ws/widget?website_token=${site}`))
  const agent = await connect(`${engine.ws}/ws/agent?token=${encodeURIComponent(tenant.agents[0]?.token ?? '')}`)
  clients.push(agent)

  const counts = workers.map((pid) => acceptedOn(pid, engine.port))
  t.ok(counts.every((n) => n > 0), `both workers hold accepted connections (${counts.join(' + ')})`)
  // 41 WebSockets, plus the admin API's keep-alive HTTP connections
  t.ok(counts.reduce((a, b) => a + b, 0) >= 41, 'every connection is held by one of the workers')
  t.equal(acceptedOn(engine.proc.pid ?? -1, engine.port), 0, 'the primary holds none')

  // fan-out between workers goes through Redis: every widget's message reaches the one agent
  const sends = await Promise.all(clients.slice(0, 40).map(async (w, i) => {
    const conv = (await w.request('conversation.open'))['data'].conversation
    return (await w.request('message.send', { conversationId: conv.id, content: `hello ${i}`, echoId: `e${i}` }))['ok'] as boolean
  }))
  t.ok(sends.every(Boolean), 'every send succeeded')
  for (let i = 0; i < 40; i++) await agent.waitFor((f) => f['type'] === 'message.created' && f['data'].message.content === `hello ${i}`)
  t.pass('the agent got all 40 messages, from widgets on both workers')

  await Promise.all(clients.splice(0).map((c) => c.close()))
  engine.proc.kill('SIGTERM')
  t.equal(await exited(engine.proc), 0, 'SIGTERM to the primary stops the workers and it exits 0')
  for (const pid of workers) t.throws(() => process.kill(pid, 0), 'worker is gone')
})

t.test('a worker that dies takes the primary down with a non-zero exit', async (t) => {
  const redis = await startTestRedis(t)
  const engine = await startEngine(t, { redisUrl: redis.url, env: { WORKERS: '2' } })
  let workers: number[] = []
  for (let i = 0; i < 100 && workers.length < 2; i++) {
    workers = childrenOf(engine.proc.pid ?? -1)
    await new Promise((r) => setTimeout(r, 100))
  }
  process.kill(workers[0] ?? -1, 'SIGKILL')
  t.equal(await exited(engine.proc), 1)
  await new Promise((r) => setTimeout(r, 200))
  t.throws(() => process.kill(workers[1] ?? -1, 0), 'the other worker was stopped')
})
