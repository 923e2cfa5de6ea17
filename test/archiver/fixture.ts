// A real Redis and PostgreSQL (migrated) with one tenant, for archiver tests. Events reach the
// partition stream through the engine's own code: the directory (accounts, inboxes, agents,
// contacts) and the Lua scripts (conversations, messages, status, rating), with time driven by
// `now`. Helpers read the stream, run an in-process consumer and wait for conditions.
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import postgres from 'postgres';
import { createConsumer, type ConsumerConfig } from '../../archiver/consumer.js';
import { createMetrics, type ArchiverMetrics } from '../../archiver/metrics.js';
import { runMigrations } from '../../archiver/migrate.js';
import type { RawEntry } from '../../archiver/sink.js';
import { keysFor, partitionOf } from '../../lua/keys.js';
import {
  appendMessageCall, createConversationCall, createScripts, json, rateConversationCall, setConversationStatusCall,
  type AppendMessageInput, type ConversationStatus,
} from '../../lua/scripts.js';
import { createDirectory } from '../../engine/directory/index.js';
import { newId, newUid } from '../../engine/ids.js';
import { startTestPostgres, startTestRedis, type TestPostgres, type TestRedis } from '../helpers/stack.js';

export type T = { teardown(fn: () => unknown): void };

export const PARTITIONS = 4;

export type Conv = Record<string, unknown> & { id: string; createdAt: number };

/** Polls `check` until it returns a value that is not false/undefined/null. */
export async function waitFor<V>(check: () => Promise<V | false | null | undefined>, timeoutMs = 15_000, what = 'condition'): Promise<V> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== false && v !== null && v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A pino logger whose JSON lines are kept in memory. */
export function memoryLogger(level = 'info'): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.startsWith('{')) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level }, sink), lines };
}

export async function archiveFixture(t: T, opts: { redis?: TestRedis; pg?: TestPostgres } = {}) {
  const redisServer = opts.redis ?? (await startTestRedis(t));
  const pg = opts.pg ?? (await startTestPostgres(t));
  const sql = postgres(pg.url, { max: 6, onnotice: () => {} });
  t.teardown(() => sql.end({ timeout: 1 }));
  await runMigrations(sql);
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 2 });
  t.teardown(() => redis.quit());
  const scripts = createScripts(redis);
  const directory = createDirectory({ redis, partitions: PARTITIONS });
  const account = await directory.createAccount('Acme');
  const { inbox } = await directory.createInbox(account.id, { name: 'Web', allowedOrigins: ['https://acme.test'], messagesPerMinute: 1000, autoAssign: true });
  const { agent } = await directory.createAgent(account.id, { name: 'Ada', role: 'agent', inboxIds: [inbox.id], maxConversations: null });
  const contact = await directory.createContact(account.id, inbox.id, null);
  const partition = partitionOf(account.id, PARTITIONS);
  const k = keysFor(partition);

  const contactOf = new Map<string, string>();

  /** A new conversation, with a new contact unless one is given. */
  async function open(now: number, contactId?: string): Promise<Conv> {
    const who = contactId ?? (await directory.createContact(account.id, inbox.id, null)).id;
    const reply = await scripts.run(createConversationCall(k, {
      id: newId('cv'), accountId: account.id, inboxId: inbox.id, contactId: who, now, uid: newUid(), additionalAttributes: '{}',
    }));
    const conv = json(reply, 1) as Conv;
    contactOf.set(conv.id, who);
    return conv;
  }

  /** A message from the conversation's contact (default) or, with senderType 'agent', from the agent. */
  async function send(conversationId: string, now: number, opts: Partial<AppendMessageInput> = {}): Promise<Record<string, unknown>> {
    const fromAgent = opts.senderType === 'agent';
    const reply = await scripts.run(appendMessageCall(k, {
      conversationId, inboxId: null, accountId: account.id, senderType: 'contact',
      senderId: fromAgent ? agent.id : (contactOf.get(conversationId) ?? contact.id),
      inboxes: null, content: `hello ${now}`, contentType: 'text', contentAttributes: '{}', private: false, echoId: null,
      sourceId: null, now, uid: newUid(), reopenUid: newUid(), floodLimit: 100_000, hotTail: 100_000, dedupeTtlMs: 60_000,
      sourceTtlMs: 60_000, ...opts,
    }));
    if (reply[0] !== 1) throw new Error(`appendMessage replied ${JSON.stringify(reply)}`);
    return json(reply, 1);
  }

  async function setStatus(conversationId: string, status: ConversationStatus, now: number, snoozedUntil: number | null = null) {
    const reply = await scripts.run(setConversationStatusCall(k, {
      conversationId, accountId: account.id, inboxes: null, agentId: agent.id, agentName: 'Ada', status, snoozedUntil, now,
      uid: newUid(), hotTail: 100_000,
    }));
    if (reply[0] !== 1) throw new Error(`setConversationStatus replied ${JSON.stringify(reply)}`);
    return json(reply, 1);
  }

  async function rate(conversationId: string, score: number, comment: string | null, now: number) {
    const reply = await scripts.run(rateConversationCall(k, {
      conversationId, accountId: account.id, contactId: contactOf.get(conversationId) ?? contact.id, inboxId: inbox.id, score,
      comment, now, uid: newUid(),
    }));
    if (reply[0] !== 1) throw new Error(`rateConversation replied ${JSON.stringify(reply)}`);
    return json(reply, 1);
  }

  /** Sets the conversation's assignee in Redis (no assign script yet): later events carry it. */
  async function assign(conversationId: string, agentId: string | null) {
    await redis.hset(k.conversation(conversationId), 'assigneeId', agentId ?? '');
  }

  /** Every entry of the tenant's partition stream, in order. */
  async function entries(): Promise<RawEntry[]> {
    const raw = (await redis.xrange(k.events, '-', '+')) as [string, string[]][];
    return raw.map(([id, fields]) => ({ id, fields }));
  }

  async function count(table: string, where = sql`true`): Promise<number> {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from ${sql(table)} where ${where}`;
    return row?.n ?? 0;
  }

  /** An in-process consumer over all partitions, started, stopped when `owner` ends. */
  function consumer(owner: T, config: Partial<ConsumerConfig> = {}, deps: { metrics?: ArchiverMetrics; level?: string } = {}) {
    const metrics = deps.metrics ?? createMetrics();
    const { log, lines } = memoryLogger(deps.level ?? 'info');
    const archiving: boolean[] = [];
    const c = createConsumer({
      redis, sql, log, metrics,
      config: {
        partitions: PARTITIONS, batchSize: 100, batchMs: 50, claimIdleMs: 60_000, janitorMs: 60_000, trim: true,
        consumer: `test-${newUid().slice(0, 6)}`, ...config,
      },
      setArchiving: (ok) => archiving.push(ok),
    });
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      await c.stop();
    };
    owner.teardown(stop);
    c.start();
    return { consumer: c, metrics, lines, archiving, stop };
  }

  /** Waits until every entry of every partition stream is acknowledged by the archiver group. */
  async function drained(c: { lag(): Promise<Map<number, { lagMs: number; pending: number }>> }, timeoutMs = 15_000) {
    await waitFor(async () => {
      const lag = await c.lag();
      return [...lag.values()].every((v) => v.lagMs === 0 && v.pending === 0);
    }, timeoutMs, 'the archiver group to catch up');
  }

  return {
    redisServer, pg, sql, redis, scripts, directory, account, inbox, agent, contact, partition, k,
    open, send, setStatus, rate, assign, entries, count, consumer, drained, contactOf,
  };
}

export type ArchiveFixture = Awaited<ReturnType<typeof archiveFixture>>;

/** The value of one sample of a metric in Prometheus text, or undefined. */
export function metricValue(text: string, name: string, labels = ''): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    const key = line.slice(0, sp);
    if (key === `${name}${labels}`) return Number(line.slice(sp + 1));
  }
  return undefined;
}
