// The one way every process (engine, archiver, bench) connects to Redis: one instance (REDIS_URL)
// or a Redis Cluster (REDIS_CLUSTER_NODES seed nodes) through ioredis `Cluster`. Both clients
// have the same command surface (scripts via defineCommand, MULTI, pipelines, streams), so the
// code above takes a `RedisClient` and runs unchanged; what differs in cluster mode is decided
// here: the publish command of the fan-out (SPUBLISH, a shard channel in the partition's slot)
// and the client options (redirections, TRYAGAIN / CLUSTERDOWN retry delays, slot refresh).
import { Cluster, Redis } from 'ioredis'

export type ClusterNode = { readonly host: string; readonly port: number }

/** Where Redis is: one instance, or a cluster known by some of its nodes. */
export type RedisTarget =
  | { readonly kind: 'single'; readonly url: string }
  | { readonly kind: 'cluster'; readonly nodes: readonly ClusterNode[]; readonly password: string | null }

export type RedisClient = Redis | Cluster

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster
}

/** The command the Lua scripts and the engine publish fan-out notices with. */
export function publishCommand(target: RedisTarget): 'PUBLISH' | 'SPUBLISH' {
  return target.kind === 'cluster' ? 'SPUBLISH' : 'PUBLISH'
}

/**
 * `host:port[,host:port…]` (IPv6 hosts in brackets: `[::1]:7000`); an error text for anything
 * else: an empty entry, a missing or out-of-range port, a URL.
 */
export function parseClusterNodes(raw: string): { nodes: ClusterNode[] } | { error: string } {
  const nodes: ClusterNode[] = []
  for (const entry of raw.split(',').map((s) => s.trim())) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):(\d{1,5})$/.exec(entry)
    const port = Number(m?.[2])
    if (m === null || port < 1 || port > 65535) {
      return { error: `REDIS_CLUSTER_NODES must be host:port[,host:port…], got ${JSON.stringify(entry)} in ${JSON.stringify(raw)}` }
    }
    nodes.push({ host: (m[1] as string).replace(/^\[|\]$/g, ''), port })
  }
  return { nodes }
}

export type ClientOptions = {
  /** CLIENT SETNAME of every connection (visible in CLIENT LIST) */
  name: string
  /** per command, while disconnected; null = until it is sent (blocking readers) */
  maxRetriesPerRequest?: number | null
  /** false: commands fail at once while disconnected (the rate limiter) */
  enableOfflineQueue?: boolean
  lazyConnect?: boolean
}

/**
 * A client for the target. On a cluster: MOVED/ASK followed up to 16 times, TRYAGAIN (a slot
 * being migrated) and CLUSTERDOWN (a failover) retried every 100 ms within those redirections
 * (about 1.6 s; scripts retry TRYAGAIN longer, lua/scripts.ts), slots refreshed every 5 s and on
 * every MOVED.
 */
export function connectRedis(target: RedisTarget, opts: ClientOptions): RedisClient {
  const common = {
    connectionName: opts.name,
    ...(opts.maxRetriesPerRequest !== undefined ? { maxRetriesPerRequest: opts.maxRetriesPerRequest } : {}),
  }
  if (target.kind === 'single') {
    return new Redis(target.url, {
      ...common,
      ...(opts.enableOfflineQueue !== undefined ? { enableOfflineQueue: opts.enableOfflineQueue } : {}),
      ...(opts.lazyConnect === true ? { lazyConnect: true } : {}),
    })
  }
  return new Cluster(target.nodes.map((n) => ({ host: n.host, port: n.port })), {
    redisOptions: { ...common, ...(target.password !== null ? { password: target.password } : {}) },
    ...(opts.enableOfflineQueue !== undefined ? { enableOfflineQueue: opts.enableOfflineQueue } : {}),
    ...(opts.lazyConnect === true ? { lazyConnect: true } : {}),
    scaleReads: 'master',
    maxRedirections: 16,
    retryDelayOnTryAgain: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnFailover: 100,
    slotsRefreshTimeout: 2000,
    slotsRefreshInterval: 5000,
    // a node whose connection closes leaves the pool (no blind reconnect to a dead master): its
    // slots' commands go to another node, whose MOVED (once a replica is promoted) refreshes the map
  })
}

/** A log-safe description of the target (no password). */
export function describeTarget(target: RedisTarget): string {
  if (target.kind === 'cluster') return `cluster ${target.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`
  try {
    const u = new URL(target.url)
    if (u.password !== '') u.password = '***'
    return u.toString()
  } catch {
    return '(unparsable url)'
  }
}

/**
 * The target from the two settings: REDIS_CLUSTER_NODES (a cluster) or REDIS_URL (one instance),
 * exactly one of them. Config modules call this with their env values; errors are operator text.
 */
export function parseRedisTarget(url: string | undefined, clusterNodes: string | undefined, password: string | undefined):
  { target: RedisTarget } | { errors: string[] } {
  const has = (v: string | undefined): v is string => v !== undefined && v.trim() !== ''
  if (has(url) && has(clusterNodes)) return { errors: ['set REDIS_URL (one instance) or REDIS_CLUSTER_NODES (a cluster), not both'] }
  if (has(clusterNodes)) {
    const parsed = parseClusterNodes(clusterNodes.trim())
    if ('error' in parsed) return { errors: [parsed.error] }
    return { target: { kind: 'cluster', nodes: parsed.nodes, password: has(password) ? password : null } }
  }
  if (!has(url)) return { errors: ['REDIS_URL (one instance) or REDIS_CLUSTER_NODES (a cluster) is required'] }
  if (has(password)) return { errors: ['REDIS_CLUSTER_PASSWORD is for REDIS_CLUSTER_NODES; put a password in REDIS_URL'] }
  if (!/^rediss?:\/\//.test(url.trim())) return { errors: ['REDIS_URL must start with redis:// or rediss://'] }
  return { target: { kind: 'single', url: url.trim() } }
}

/** The client (or MULTI) method of the fan-out publish: `multi[publishMethod(redis)](channel, notice)`. */
export function publishMethod(client: RedisClient): 'publish' | 'spublish' {
  return isCluster(client) ? 'spublish' : 'publish'
}

/**
 * Another client to the same target with its own connections (blocking readers: XREADGROUP BLOCK
 * parks a connection). A cluster's copy connects lazily, only to the nodes it sends commands to.
 */
export function duplicateClient(client: RedisClient, opts: { name: string; maxRetriesPerRequest?: number | null }): RedisClient {
  const retries = opts.maxRetriesPerRequest !== undefined ? { maxRetriesPerRequest: opts.maxRetriesPerRequest } : {}
  if (isCluster(client)) {
    // duplicate() replaces redisOptions as a whole: carry the password over
    const redisOptions = { ...client.options.redisOptions, connectionName: opts.name, ...retries }
    return client.duplicate(undefined, { redisOptions } as Parameters<typeof client.duplicate>[1])
  }
  return client.duplicate({ connectionName: opts.name, ...retries })
}

/**
 * Is the target what its setting says? A seed of REDIS_CLUSTER_NODES that answers as a standalone
 * redis-server (cluster_enabled:0), or a REDIS_URL that answers as a cluster node, is a
 * configuration error (its operator text); seeds that do not answer yet are not (null: the caller
 * waits for Redis as it does anyway). One plain connection per seed, closed at once.
 */
export async function targetModeError(target: RedisTarget): Promise<string | null> {
  const probes = target.kind === 'single'
    ? [{ label: 'REDIS_URL', open: () => new Redis(target.url, probeOptions) }]
    : target.nodes.map((n) => ({
        label: `REDIS_CLUSTER_NODES entry ${n.host}:${n.port}`,
        open: () => new Redis(n.port, n.host, { ...probeOptions, ...(target.password !== null ? { password: target.password } : {}) }),
      }))
  for (const probe of probes) {
    const client = probe.open()
    client.on('error', () => {}) // unreachable: not a verdict
    try {
      await client.connect()
      const enabled = /^cluster_enabled:(\d)/m.exec(await client.info('cluster'))?.[1]
      if (target.kind === 'cluster' && enabled === '0') {
        return `${probe.label} is a standalone redis-server (cluster_enabled:0): set REDIS_URL for one instance, or point REDIS_CLUSTER_NODES at cluster nodes`
      }
      if (target.kind === 'single' && enabled === '1') {
        return `REDIS_URL points at a Redis Cluster node (cluster_enabled:1): set REDIS_CLUSTER_NODES (and no REDIS_URL) to run on the cluster`
      }
    } catch {
      // not reachable, or refused before answering: decided by a later attempt
    } finally {
      client.disconnect()
    }
  }
  return null
}

const probeOptions = { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, connectionName: 'parley-probe' }
