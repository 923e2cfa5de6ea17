// A real local Redis Cluster for tests (engine/embedded/cluster.ts): 3 masters + 3 replicas on
// free ports in a temp folder, every replica synced, stopped and removed by t.teardown.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { clusterSettings, startRedisCluster, type LocalCluster } from '../../engine/embedded/cluster.js';
import { startRedis } from '../../engine/embedded/redis.js';
import { freePort, isPortFree } from '../../engine/embedded/ports.js';
import type { TeardownHost } from './stack.js';

export type TestCluster = LocalCluster & {
  /** one plain connection per node (commandstats, CLUSTER NODES, CLIENT KILL…), closed on teardown */
  node(i: number): Redis;
  /** the nodes that are masters now */
  masters(): Promise<number[]>;
  /** the node replicating master `i` now */
  replicaOf(i: number): Promise<number>;
  /** the node index serving a slot now */
  ownerOf(slot: number): Promise<number>;
  /**
   * Moves one slot to another master live, as `redis-cli --cluster reshard` does: IMPORTING on the
   * target, MIGRATING on the source, MIGRATE its keys in batches, then SETSLOT … NODE everywhere.
   * `pauseMs` between batches stretches the window (writes meet TRYAGAIN / ASK meanwhile).
   */
  moveSlot(slot: number, to: number, opts?: { batch?: number; pauseMs?: number }): Promise<{ keys: number; ms: number }>;
  /**
   * The same move held half-way: IMPORTING/MIGRATING set and the slot's keys that `first` picks
   * MIGRATEd, so ops meet a slot split between two masters until `finish` moves the rest and assigns it.
   */
  beginMove(slot: number, to: number, first: (key: string) => boolean): Promise<{ from: number; finish(): Promise<{ keys: number; ms: number }> }>;
  /**
   * Starts a node a test killed again, on its port and folder (its nodes.conf): a master that was
   * failed over comes back as a replica of the promoted one. Resolves once it says it is a replica
   * with its link to the master up and its first sync done.
   */
  restart(i: number): Promise<void>;
};

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) {
    const p = await freePort();
    if (!ports.has(p) && (await isPortFree(p))) ports.add(p);
  }
  return [...ports];
}

export async function startTestCluster(t: TeardownHost, opts: { masters?: number } = {}): Promise<TestCluster> {
  const masters = opts.masters ?? 3;
  const dir = await mkdtemp(join(tmpdir(), 'parley-cluster-'));
  const conns = new Map<number, Redis>();
  let cluster: LocalCluster | undefined;
  t.teardown(async () => {
    for (const c of conns.values()) c.disconnect();
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const ports = await distinctFreePorts(masters * 4);
  cluster = await startRedisCluster({
    dir, masters, replicasPerMaster: 1,
    ports: Array.from({ length: masters * 2 }, (_, i) => ({ port: ports[2 * i] as number, busPort: ports[2 * i + 1] as number })),
  });
  const started = cluster;
  const node = (i: number): Redis => {
    let c = conns.get(i);
    if (c === undefined) {
      const n = started.nodes[i];
      if (n === undefined) throw new Error(`no cluster node ${i}`);
      c = new Redis(n.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
      c.on('error', () => {}); // a node a test killed: its commands fail, that is enough
      conns.set(i, c);
    }
    return c;
  };
  const masterNodes = async () => {
    const out: number[] = [];
    for (let i = 0; i < started.nodes.length; i++) {
      const role = await node(i).info('replication').then((s) => /^role:(\w+)/m.exec(s)?.[1]).catch(() => 'down');
      if (role === 'master') out.push(i);
    }
    return out;
  };
  const replicaOf = async (m: number): Promise<number> => {
    const port = started.nodes[m]?.port;
    for (let i = 0; i < started.nodes.length; i++) {
      const text = await node(i).info('replication').catch(() => '');
      if (/^role:slave\r?$/m.test(text) && new RegExp(`^master_port:${port}\\r?$`, 'm').test(text)) return i;
    }
    throw new Error(`no replica of node ${m}`);
  };
  const idOf = async (i: number) => String(await node(i).call('CLUSTER', 'MYID'));
  const ownerOf = async (slot: number): Promise<number> => {
    const masters = await masterNodes();
    for (const i of masters) {
      const slots = (await node(i).call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
      const range = slots.find(([a, b]) => slot >= a && slot <= b);
      const port = range?.[2][1];
      const owner = started.nodes.findIndex((n) => n.port === port);
      if (owner >= 0) return owner;
    }
    throw new Error(`no owner for slot ${slot}`);
  };
  const beginMove = async (slot: number, to: number, first: (key: string) => boolean, opts: { batch?: number; pauseMs?: number } = {}) => {
    const started0 = Date.now();
    const from = await ownerOf(slot);
    const [fromId, toId] = [await idOf(from), await idOf(to)];
    const target = started.nodes[to] as { port: number };
    const batch = async (n: number, pick: (key: string) => boolean = () => true) => {
      const keys = ((await node(from).call('CLUSTER', 'GETKEYSINSLOT', slot, n)) as string[]).filter(pick);
      if (keys.length > 0) await node(from).call('MIGRATE', '127.0.0.1', target.port, '', 0, 5000, 'KEYS', ...keys);
      return keys.length;
    };
    if (from === to) return { from, finish: async () => ({ keys: 0, ms: 0 }) };
    await node(to).call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId);
    await node(from).call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId);
    let moved = await batch(1_000_000, first);
    const finish = async () => {
      for (let n; (n = await batch(opts.batch ?? 10)) > 0; ) {
        moved += n;
        if (opts.pauseMs !== undefined) await new Promise((r) => setTimeout(r, opts.pauseMs));
      }
      await node(to).call('CLUSTER', 'SETSLOT', slot, 'NODE', toId);
      await node(from).call('CLUSTER', 'SETSLOT', slot, 'NODE', toId);
      for (const i of await masterNodes()) if (i !== to && i !== from) await node(i).call('CLUSTER', 'SETSLOT', slot, 'NODE', toId);
      return { keys: moved, ms: Date.now() - started0 };
    };
    return { from, finish };
  };
  const restart = async (i: number) => {
    const n = started.nodes[i];
    if (n === undefined) throw new Error(`no cluster node ${i}`);
    const server = await startRedis({ dir: join(dir, `node-${n.port}`), port: n.port, settings: clusterSettings(n.busPort, 2000) });
    started.nodes[i] = { ...server, busPort: n.busPort };
    conns.get(i)?.disconnect();
    conns.delete(i);
    const field = (text: string, name: string) => new RegExp(`^${name}:(.*)\\r?$`, 'm').exec(text)?.[1]?.trim();
    for (const deadline = Date.now() + 30_000; ;) {
      const text = await node(i).info('replication').catch(() => '');
      if (field(text, 'role') === 'slave' && field(text, 'master_link_status') === 'up' && field(text, 'master_sync_in_progress') === '0') return;
      if (Date.now() > deadline) throw new Error(`cluster node ${i} did not rejoin as a synced replica`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const moveSlot = async (slot: number, to: number, opts: { batch?: number; pauseMs?: number } = {}) =>
    (await beginMove(slot, to, () => false, opts)).finish();
  return {
    ...started, node, masters: masterNodes, replicaOf, ownerOf, moveSlot, restart,
    beginMove: (slot: number, to: number, moved: (key: string) => boolean) => beginMove(slot, to, moved),
  };
}
