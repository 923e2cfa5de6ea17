// The cluster e2e stack, one per test file: a real local Redis Cluster (3 masters + 3 replicas,
// test/helpers/cluster.ts), PostgreSQL, two engine nodes and the archiver with REDIS_CLUSTER_NODES,
// a cluster client for looking at keys, and tenants placed until their partitions sit on the
// masters a test needs. `env` shortens settings (scheduler, sweeps, retention) for the engines.
import { Cluster } from 'ioredis'
import { DEFAULT_PARTITIONS, keysFor, partitionOf } from '../../lua/keys.js'
import { keySlot } from '../../lua/slot.js'
import { createTenant, type Json, type Tenant } from '../helpers/admin.js'
import { connect, type Client } from '../helpers/client.js'
import { startTestCluster } from '../helpers/cluster.js'
import { startEngine, type EngineProc } from '../helpers/engine.js'
import { startTestPostgres } from '../helpers/stack.js'
import { startArchiver } from '../archiver/proc.js'

type T = { teardown(fn: () => unknown): void }

export async function clusterStack(t: T, opts: { env?: Record<string, string> } = {}) {
  const cluster = await startTestCluster(t)
  const pg = await startTestPostgres(t)
  const env = { REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.seeds, DATABASE_URL: pg.url, CONN_RATE_POINTS: '10000', HOT_TAIL: '10', ...opts.env }
  const [nodeA, nodeB] = await Promise.all([startEngine(t, { redisUrl: '', env }), startEngine(t, { redisUrl: '', env })]) as [EngineProc, EngineProc]
  const archiver = await startArchiver(t, '', pg.url, { REDIS_CLUSTER_NODES: cluster.seeds })
  const client = new Cluster(cluster.seeds.split(',').map((s) => ({ host: '127.0.0.1', port: Number(s.split(':')[1]) })))
  t.teardown(() => client.disconnect())
  const clients: Client[] = []
  t.teardown(() => Promise.all(clients.map((c) => c.close())))
  const track = (c: Client) => (clients.push(c), c)

  /** the keys of an account's partition, and the slot they all live in */
  const keysOf = (accountId: string) => keysFor(partitionOf(accountId, DEFAULT_PARTITIONS))
  const slotOf = (accountId: string) => keySlot(keysOf(accountId).events)
  /** the port of the master serving an account's partition now */
  const masterOf = async (accountId: string) => {
    const slot = slotOf(accountId)
    const slots = (await client.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][]
    return slots.find(([a, b]) => slot >= a && slot <= b)?.[2][1]
  }
  /**
   * Tenants (created on alternating nodes) until `masters` different masters hold one; all of
   * them, and the first one on each master. 30 tenants at most (then fewer masters are covered).
   */
  const spreadTenants = async (masters: number, tenantOpts: Parameters<typeof createTenant>[1] = { agents: 2 }) => {
    const tenants: Tenant[] = []
    const firstOn = new Map<number | undefined, Tenant>()
    while (firstOn.size < masters && tenants.length < 30) {
      const tenant = await createTenant(tenants.length % 2 === 0 ? nodeA.http : nodeB.http, tenantOpts)
      tenants.push(tenant)
      const master = await masterOf(tenant.account['id'] as string)
      if (!firstOn.has(master)) firstOn.set(master, tenant)
    }
    return { tenants, onDistinctMasters: [...firstOn.values()] }
  }
  const urls = (node: EngineProc, tenant: Tenant) => ({
    agent: (i = 0) => `${node.ws}/ws/agent?token=${encodeURIComponent(tenant.agents[i]?.token ?? '')}`,
    widget: (query: Json = {}) => `${node.ws}/ws/widget?website_token=${encodeURIComponent(tenant.inbox['websiteToken'] as string)}` +
      Object.entries(query).map(([k, v]) => `&${k}=${encodeURIComponent(String(v))}`).join(''),
  })
  /** a tracked client (closed at teardown) */
  const open = async (url: string, codec?: 'json' | 'msgpack') => track(await connect(url, codec === undefined ? {} : { codec }))
  return { cluster, pg, env, nodeA, nodeB, archiver, client, track, open, keysOf, slotOf, masterOf, spreadTenants, urls }
}

export type ClusterStack = Awaited<ReturnType<typeof clusterStack>>

/** The op's reply data; throws (with the reply) when it is not ok. */
export async function ok(c: Client, op: string, params: Json = {}): Promise<Json> {
  const r = await c.request(op, params)
  if (r['ok'] !== true) throw new Error(`${op} failed: ${JSON.stringify(r)}`)
  return r['data'] as Json
}

