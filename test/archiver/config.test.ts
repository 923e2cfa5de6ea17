import t from 'tap';
import { loadConfig, safeUrl } from '../../archiver/config.js';
import { DEFAULT_PARTITIONS } from '../../lua/keys.js';

const good = { DATABASE_URL: 'postgres://u:pw@db:5432/parley', REDIS_URL: 'redis://cache:6379' };

t.test('defaults apply when only the required URLs are set', async (t) => {
  t.same(loadConfig(good), {
    ok: true,
    config: {
      databaseUrl: good.DATABASE_URL,
      redisUrl: good.REDIS_URL,
      redis: { kind: 'single', url: good.REDIS_URL },
      port: 8081,
      partitions: DEFAULT_PARTITIONS,
      logLevel: 'info',
      batchSize: 500,
      batchMs: 200,
      pgConnections: 4,
      consumer: null,
      leaseMs: 2_000,
      claimIdleMs: 60_000,
      janitorMs: 5_000,
      trim: true,
      waitReplicas: 0,
      waitTimeoutMs: 1_000,
    },
  });
});

t.test('every variable is parsed', async (t) => {
  const r = loadConfig({
    DATABASE_URL: 'postgresql://db/parley',
    REDIS_URL: 'rediss://cache:6380/1',
    ARCHIVER_PORT: '9100',
    PARTITIONS: '1024',
    LOG_LEVEL: 'DEBUG',
    BATCH_SIZE: '1',
    BATCH_MS: ' 50 ',
    ARCHIVER_CONSUMER: 'archiver-0',
    ARCHIVER_CLAIM_IDLE_MS: '1000',
    ARCHIVER_JANITOR_MS: '250',
    ARCHIVER_TRIM: 'off',
    PG_CONNECTIONS: '16',
  });
  t.ok(r.ok);
  if (!r.ok) return;
  t.match(r.config, {
    port: 9100, partitions: 1024, logLevel: 'debug', batchSize: 1, batchMs: 50, consumer: 'archiver-0', claimIdleMs: 1000,
    janitorMs: 250, trim: false, pgConnections: 16,
  });
});

t.test('empty values count as unset', async (t) => {
  const r = loadConfig({ ...good, PARTITIONS: '', LOG_LEVEL: '  ' });
  t.ok(r.ok);
  if (r.ok) t.match(r.config, { partitions: DEFAULT_PARTITIONS, logLevel: 'info' });
});

t.test('every bad variable is reported at once', async (t) => {
  const r = loadConfig({
    REDIS_URL: 'http://cache:6379',
    ARCHIVER_PORT: '70000',
    PARTITIONS: '0',
    LOG_LEVEL: 'verbose',
    BATCH_SIZE: '12.5',
    BATCH_MS: 'soon',
    ARCHIVER_CONSUMER: 'has space',
    ARCHIVER_CLAIM_IDLE_MS: '5',
    ARCHIVER_JANITOR_MS: 'often',
    ARCHIVER_TRIM: 'maybe',
    PG_CONNECTIONS: '0',
  });
  t.equal(r.ok, false);
  if (r.ok) return;
  t.equal(r.errors.length, 12, r.errors.join('\n'));
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'ARCHIVER_PORT', 'PARTITIONS', 'LOG_LEVEL', 'BATCH_SIZE', 'BATCH_MS',
    'ARCHIVER_CONSUMER', 'ARCHIVER_CLAIM_IDLE_MS', 'ARCHIVER_JANITOR_MS', 'ARCHIVER_TRIM', 'PG_CONNECTIONS']) {
    t.ok(
      r.errors.some((e) => e.startsWith(name)),
      `${name} is reported`,
    );
  }
  t.match(r.errors.join('\n'), /DATABASE_URL is required/);
});

t.test('range limits are inclusive and enforced', async (t) => {
  const bad = (env: Record<string, string>): string[] => {
    const r = loadConfig({ ...good, ...env });
    return r.ok ? [] : r.errors;
  };
  t.same(bad({ PARTITIONS: '1' }), []);
  t.same(bad({ ARCHIVER_PORT: '0' }), [], 'port 0 = any free port');
  t.equal(bad({ PARTITIONS: '1025' }).length, 1);
  t.equal(bad({ ARCHIVER_PORT: '-1' }).length, 1);
  t.equal(bad({ BATCH_SIZE: '0' }).length, 1);
  t.equal(bad({ BATCH_MS: '0' }).length, 1);
  t.equal(bad({ PARTITIONS: '1e3' }).length, 1, 'exponent notation is not an integer here');
  t.equal(bad({ PARTITIONS: '0x10' }).length, 1);
});

t.test('errors never repeat a URL that may carry a password', async (t) => {
  const r = loadConfig({ DATABASE_URL: 'mysql://u:hunter2@db/x', REDIS_URL: 'not a url:hunter2' });
  t.equal(r.ok, false);
  if (r.ok) return;
  t.equal(r.errors.length, 2);
  t.notMatch(r.errors.join('\n'), /hunter2/);
});

t.test('safeUrl masks the password', async (t) => {
  t.equal(safeUrl('postgres://u:hunter2@db:5432/x?sslmode=require'), 'postgres://u:***@db:5432/x');
  t.equal(safeUrl('redis://cache:6379'), 'redis://cache:6379');
  t.equal(safeUrl('::'), '[unparseable url]');
});

t.test('REDIS_CLUSTER_NODES instead of REDIS_URL: a cluster', async (t) => {
  const r = loadConfig({ DATABASE_URL: good.DATABASE_URL, REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b:7001,[::1]:7002', REDIS_CLUSTER_PASSWORD: 'pw' });
  t.ok(r.ok);
  if (r.ok) {
    t.same(r.config.redis, {
      kind: 'cluster', password: 'pw',
      nodes: [{ host: '10.0.0.1', port: 7000 }, { host: 'redis-b', port: 7001 }, { host: '::1', port: 7002 }],
    });
    t.equal(r.config.redisUrl, '');
  }
  for (const bad of ['10.0.0.1', '10.0.0.1:7000,', 'redis://h:7000', 'h:0', 'h:70000']) {
    const e = loadConfig({ DATABASE_URL: good.DATABASE_URL, REDIS_CLUSTER_NODES: bad });
    t.notOk(e.ok, bad);
    if (!e.ok) t.match(e.errors.join('\n'), /REDIS_CLUSTER_NODES must be host:port/);
  }
  const both = loadConfig({ ...good, REDIS_CLUSTER_NODES: 'h:7000' });
  t.notOk(both.ok);
  if (!both.ok) t.match(both.errors.join('\n'), /not both/);
});
