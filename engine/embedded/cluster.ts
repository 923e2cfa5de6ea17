// A local Redis Cluster: `masters` redis-servers owning the 16384 slots in equal contiguous ranges
// (the split `redis-cli --cluster create` makes), each with `replicas` replicas, formed with plain
// CLUSTER commands (no redis-cli needed). Reusing a folder whose nodes already formed a cluster
// (nodes.conf) just starts them again on the same ports. Resolves once every slot is served,
// every node says cluster_state:ok and every replica finished its first full sync: before that
// a replica cannot be promoted, so a master lost early would not be failed over.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { sleep } from './child.js';
import { startRedis, type RedisServer } from './redis.js';

export type ClusterPorts = { port: number; busPort: number };

export type StartClusterOptions = {
  dir: string;
  masters: number;
  replicasPerMaster?: number;
  /** one entry per node: masters first, then the replicas of master 0, 1, … in turn */
  ports: readonly ClusterPorts[];
  /** redis-server logs go to <dir>/node-<port>.log */
  logs?: boolean;
  nodeTimeoutMs?: number;
  readyTimeoutMs?: number;
};

export type ClusterNodeServer = RedisServer & { busPort: number };

export type LocalCluster = {
  nodes: ClusterNodeServer[];
  /** `127.0.0.1:port,…` of every node: REDIS_CLUSTER_NODES */
  seeds: string;
  stop(): Promise<void>;
};

/** Node settings; `cluster-require-full-coverage no`: a master down stops only its own slots. */
export function clusterSettings(busPort: number, nodeTimeoutMs: number): Record<string, string> {
  return {
    'cluster-enabled': 'yes',
    'cluster-config-file': 'nodes.conf',
    'cluster-node-timeout': String(nodeTimeoutMs),
    'cluster-port': String(busPort),
    'cluster-require-full-coverage': 'no',
    // a replica's first full sync starts at once (7.0 waits 5 s by default)
    'repl-diskless-sync-delay': '0',
  };
}

/** The first slot of each of `n` masters, as redis-cli splits them. */
export function slotRanges(n: number): [number, number][] {
  const per = 16384 / n;
  const ranges: [number, number][] = [];
  let first = 0;
  let cursor = 0;
  for (let i = 0; i < n; i++) {
    let last = Math.round(cursor + per - 1);
    if (last > 16383 || i === n - 1) last = 16383;
    ranges.push([first, last]);
    first = last + 1;
    cursor += per;
  }
  return ranges;
}

async function waitFor(what: string, deadline: number, check: () => Promise<boolean>): Promise<void> {
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`redis cluster: timed out waiting for ${what}`);
    await sleep(100);
  }
}

const info = (c: Redis, section: string, field: string) =>
  c.info(section).then((text) => new RegExp(`^${field}:(.*)\\r?$`, 'm').exec(text)?.[1]?.trim() ?? '');

export async function startRedisCluster(opts: StartClusterOptions): Promise<LocalCluster> {
  const replicas = opts.replicasPerMaster ?? 1;
  const total = opts.masters * (1 + replicas);
  if (opts.ports.length !== total) throw new Error(`redis cluster: ${total} nodes need ${total} ports, got ${opts.ports.length}`);
  const nodeTimeoutMs = opts.nodeTimeoutMs ?? 2000;
  const nodes: ClusterNodeServer[] = [];
  const clients: Redis[] = [];
  const stop = async () => {
    for (const c of clients) c.disconnect();
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    const formed = opts.ports.every((p) => existsSync(join(opts.dir, `node-${p.port}`, 'nodes.conf')));
    for (const p of opts.ports) {
      const dir = join(opts.dir, `node-${p.port}`);
      const server = await startRedis({
        dir, port: p.port, settings: clusterSettings(p.busPort, nodeTimeoutMs),
        ...(opts.logs === true ? { logFile: join(opts.dir, `node-${p.port}.log`) } : {}),
      });
      nodes.push({ ...server, busPort: p.busPort });
      clients.push(new Redis(p.port, '127.0.0.1', { maxRetriesPerRequest: 1, connectionName: 'parley-cluster-setup' }));
    }
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
    if (!formed) await form(clients, opts, replicas, deadline);
    await waitFor('cluster_state:ok on every node', deadline, async () =>
      (await Promise.all(clients.map((c) => c.call('CLUSTER', 'INFO')))).every((t) => /cluster_state:ok/.test(String(t))));
    await waitFor('every replica\'s first full sync', deadline, async () => {
      const states = await Promise.all(clients.map(async (c) => {
        if ((await info(c, 'replication', 'role')) !== 'slave') return true;
        return (await info(c, 'replication', 'master_link_status')) === 'up' && (await info(c, 'replication', 'master_sync_in_progress')) === '0';
      }));
      return states.every(Boolean) && states.length === total;
    });
    for (const c of clients) c.disconnect();
    clients.length = 0;
    return { nodes, seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(','), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Slots, distinct config epochs, MEET, then replicas, as redis-cli --cluster create does. */
async function form(clients: Redis[], opts: StartClusterOptions, replicas: number, deadline: number): Promise<void> {
  const masters = clients.slice(0, opts.masters);
  const ranges = slotRanges(opts.masters);
  for (const [i, c] of masters.entries()) {
    const [first, last] = ranges[i] as [number, number];
    await c.call('CLUSTER', 'ADDSLOTSRANGE', first, last);
  }
  for (const [i, c] of clients.entries()) await c.call('CLUSTER', 'SET-CONFIG-EPOCH', i + 1);
  for (const p of opts.ports.slice(1)) await clients[0]?.call('CLUSTER', 'MEET', '127.0.0.1', p.port, p.busPort);
  await waitFor('every node to know every other', deadline, async () =>
    (await Promise.all(clients.map(async (c) => String(await c.call('CLUSTER', 'NODES')).trim().split('\n').length)))
      .every((n) => n === clients.length));
  const ids = await Promise.all(masters.map(async (c) => String(await c.call('CLUSTER', 'MYID'))));
  for (let r = 0; r < replicas; r++) {
    for (let m = 0; m < opts.masters; m++) {
      const replica = clients[opts.masters + r * opts.masters + m] as Redis;
      await waitFor('a replica to see its master', deadline, async () => {
        await replica.call('CLUSTER', 'REPLICATE', ids[m] as string);
        return true;
      });
    }
  }
}
