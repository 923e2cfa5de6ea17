import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import postgres from 'postgres';
import { ensurePartitionsAhead, listMigrations, MIGRATIONS_DIR, runMigrations, utcMonthStart } from '../../archiver/migrate.js';
import { startTestPostgres } from '../helpers/stack.js';

type Sql = postgres.Sql;

const pg = await startTestPostgres(t);
let dbSeq = 0;

/** A fresh, empty database on the test server and a client for it, closed when `owner` ends. */
async function freshDb(owner: { teardown(fn: () => unknown): void }, max = 2): Promise<Sql> {
  const name = `archiver_${process.pid}_${++dbSeq}`;
  const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
  await admin`create database ${admin(name)}`;
  await admin.end();
  const url = new URL(pg.url);
  url.pathname = `/${name}`;
  const sql = postgres(url.toString(), { max, onnotice: () => {} });
  owner.teardown(() => sql.end({ timeout: 1 }));
  return sql;
}

/** A folder of migration files, as the URL runMigrations takes. */
function migrationsDir(dir: string): URL {
  return pathToFileURL(join(dir, '/'));
}

const migrated = await freshDb(t, 4);
const first = await runMigrations(migrated);

t.test('migrations apply on an empty database and a re-run applies nothing', async (t) => {
  t.same(first.applied, ['00001_init', '00002_consumer', '00003_admin', '00004_reports', '00005_webhooks', '00006_daily_rollups', '00007_monthly_rollups', '00008_assignee_rollups']);
  t.same(await runMigrations(migrated), { applied: [] });
  const rows = await migrated`select version from schema_migrations order by version`;
  t.same(rows.map((r) => r['version']), ['00001_init', '00002_consumer', '00003_admin', '00004_reports', '00005_webhooks', '00006_daily_rollups', '00007_monthly_rollups', '00008_assignee_rollups']);
  const tables = await migrated<{ name: string }[]>`
    select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind in ('r', 'p') and c.relispartition = false
     order by 1`;
  t.same(
    tables.map((r) => r.name),
    [
      'accounts', 'agents', 'archiver_checkpoints', 'archiver_dead_letters', 'contact_inboxes', 'contacts', 'conversations',
      'csat_responses', 'inbox_members', 'inboxes', 'messages', 'report_rollups', 'report_rollups_daily', 'report_rollups_monthly', 'reporting_events', 'schema_migrations', 'webhook_deliveries',
    ],
  );
});

t.test('the migration creates this month, 3 months ahead and a default partition', async (t) => {
  const parts = await migrated<{ name: string }[]>`
    select inhrelid::regclass::text as name from pg_inherits
     where inhparent = 'messages'::regclass order by 1`;
  const now = new Date();
  const expected = [0, 1, 2, 3].map((i) => partitionName(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1))));
  t.same(parts.map((p) => p.name), ['messages_default', ...expected].sort());
});

t.test('two concurrent runners apply each file exactly once', async (t) => {
  const dir = migrationsDir(t.testdir({
    '00001_a.sql': 'create table counter (n int not null); insert into counter values (1);',
    '00002_b.sql': 'create table b (id int primary key); select pg_sleep(0.2); insert into counter values (2);',
    '00010_c.sql': 'insert into counter values (10);',
  }));
  const db = await freshDb(t);
  const other = postgres(dbUrl(db), { max: 2, onnotice: () => {} });
  t.teardown(() => other.end({ timeout: 1 }));
  const [a, b] = await Promise.all([runMigrations(db, undefined, dir), runMigrations(other, undefined, dir)]);
  t.same([...a.applied, ...b.applied].sort(), ['00001_a', '00002_b', '00010_c'], 'each version applied by exactly one runner');
  const counter = await db`select n from counter order by n`;
  t.same(counter.map((r) => r['n']), [1, 2, 10], 'each file ran exactly once');
});

t.test('files apply in numeric order, not name order', async (t) => {
  const dir = migrationsDir(t.testdir({
    '2_second.sql': 'insert into log values (2);',
    '10_third.sql': 'insert into log values (10);',
    '1_first.sql': 'create table log (n int, at serial);',
  }));
  t.same((await listMigrations(dir)).map((f) => f.version), ['1_first', '2_second', '10_third']);
  const db = await freshDb(t);
  t.same((await runMigrations(db, undefined, dir)).applied, ['1_first', '2_second', '10_third']);
  t.same((await db`select n from log order by at`).map((r) => r['n']), [2, 10]);
});

t.test('a failing migration rolls back whole and stays pending', async (t) => {
  const dir = migrationsDir(t.testdir({
    '00001_ok.sql': 'create table ok (id int);',
    '00002_bad.sql': 'create table half (id int); select 1 / 0;',
  }));
  const db = await freshDb(t);
  await t.rejects(runMigrations(db, undefined, dir), { code: '22012' });
  t.same((await db`select version from schema_migrations`).map((r) => r['version']), ['00001_ok']);
  t.same(await db`select to_regclass('half') as r`, [{ r: null }], 'no half-applied file');
});

t.test('misnamed and duplicate migration files are refused', async (t) => {
  await t.rejects(listMigrations(migrationsDir(t.testdir({ 'init.sql': '' }))), /00001_name\.sql/);
  await t.rejects(listMigrations(migrationsDir(t.testdir({ '01_a.sql': '', '1_b.sql': '' }))), /share number 1/);
});

t.test('an applied file that changed is reported, not re-applied', async (t) => {
  const dir = migrationsDir(t.testdir({ '00001_a.sql': 'create table a (id int);' }));
  const db = await freshDb(t);
  await runMigrations(db, undefined, dir);
  writeFileSync(new URL('00001_a.sql', dir), 'create table a (id int, b int);');
  const warnings: object[] = [];
  const log = { info: () => {}, warn: (obj: object) => warnings.push(obj) };
  t.same(await runMigrations(db, log, dir), { applied: [] });
  t.same(warnings, [{ version: '00001_a' }]);
});

t.test('00006 and 00007 backfill daily and monthly rollups from an archive that has hourly ones only', async (t) => {
  const before = (await listMigrations()).filter((m) => m.number <= 5);
  const dir = migrationsDir(t.testdir(Object.fromEntries(before.map((m) => [`${m.version}.sql`, readFileSync(m.url, 'utf8')]))));
  const db = await freshDb(t);
  await runMigrations(db, undefined, dir);
  const hour = (iso: string, slot: number, n: number, total: number, acct = 'ac_b1', dim = 'all', key = '') =>
    ({ account_id: acct, metric: 'reply_time', dim, key, bucket: new Date(iso), slot, n, total });
  await db`insert into report_rollups ${db([
    hour('2026-03-28T00:00:00Z', 3, 2, 5000), hour('2026-03-28T23:00:00Z', 3, 1, 2500), hour('2026-03-28T23:00:00Z', 4, 1, 4000),
    hour('2026-03-29T00:00:00Z', 3, 4, 9000), hour('2026-03-28T12:00:00Z', 3, 7, 1, 'ac_b1', 'agent', 'ag_1'), hour('2026-03-28T12:00:00Z', 3, 1, 1, 'ac_b2'),
  ])}`;
  t.same((await runMigrations(db, undefined, MIGRATIONS_DIR)).applied, ['00006_daily_rollups', '00007_monthly_rollups', '00008_assignee_rollups']);
  const daily = await db`select account_id, dim, key, bucket, slot, n::int as n, total from report_rollups_daily order by 1, 2, 3, 4, 5`;
  t.same(daily.map((r) => [r['account_id'], r['dim'], r['key'], (r['bucket'] as Date).toISOString(), r['slot'], r['n'], r['total']]), [
    ['ac_b1', 'agent', 'ag_1', '2026-03-28T00:00:00.000Z', 3, 7, 1],
    ['ac_b1', 'all', '', '2026-03-28T00:00:00.000Z', 3, 3, 7500],
    ['ac_b1', 'all', '', '2026-03-28T00:00:00.000Z', 4, 1, 4000],
    ['ac_b1', 'all', '', '2026-03-29T00:00:00.000Z', 3, 4, 9000],
    ['ac_b2', 'all', '', '2026-03-28T00:00:00.000Z', 3, 1, 1],
  ], 'one row per UTC day and slot, summed; other days, dimensions and accounts apart');
  // and 00007 the months, from the days
  const monthly = await db`select account_id, dim, key, bucket, slot, n::int as n, total from report_rollups_monthly order by 1, 2, 3, 4, 5`;
  t.same(monthly.map((r) => [r['account_id'], r['dim'], r['key'], (r['bucket'] as Date).toISOString(), r['slot'], r['n'], r['total']]), [
    ['ac_b1', 'agent', 'ag_1', '2026-03-01T00:00:00.000Z', 3, 7, 1],
    ['ac_b1', 'all', '', '2026-03-01T00:00:00.000Z', 3, 7, 16500],
    ['ac_b1', 'all', '', '2026-03-01T00:00:00.000Z', 4, 1, 4000],
    ['ac_b2', 'all', '', '2026-03-01T00:00:00.000Z', 3, 1, 1],
  ], 'one row per UTC month and slot, summed from the days');
});

t.test('00008 backfills conversations per assignee into the three rollups, and the rebuild makes the same rows', async (t) => {
  const before = (await listMigrations()).filter((m) => m.number <= 7);
  const dir = migrationsDir(t.testdir(Object.fromEntries(before.map((m) => [`${m.version}.sql`, readFileSync(m.url, 'utf8')]))));
  const db = await freshDb(t);
  await runMigrations(db, undefined, dir);
  let displayId = 0;
  const conv = (id: string, account: string, assignee: string | null, iso: string) => ({
    id, account_id: account, inbox_id: 'in_1', contact_id: 'ct_1', display_id: ++displayId, assignee_id: assignee, created_at: new Date(iso),
  });
  await db`insert into conversations ${db([
    conv('cv_1', 'ac_b1', 'ag_1', '2026-03-28T10:05:00Z'), conv('cv_2', 'ac_b1', 'ag_1', '2026-03-28T10:40:00Z'),
    conv('cv_3', 'ac_b1', 'ag_1', '2026-03-28T23:10:00Z'), conv('cv_4', 'ac_b1', 'ag_2', '2026-03-29T01:00:00Z'),
    conv('cv_5', 'ac_b1', null, '2026-03-29T02:00:00Z'), conv('cv_6', 'ac_b1', 'ag_1', '2026-04-02T08:00:00Z'),
    conv('cv_7', 'ac_b2', 'ag_9', '2026-03-28T10:00:00Z'),
  ])}`;
  // a stale row (none should exist): the conversations are the truth
  await db`insert into report_rollups_daily ${db({ account_id: 'ac_b1', metric: 'conversations', dim: 'agent', key: 'ag_1', bucket: new Date('2026-03-28T00:00:00Z'), slot: 0, n: 9, total: 0 })}`;
  t.same((await runMigrations(db, undefined, MIGRATIONS_DIR)).applied, ['00008_assignee_rollups']);
  const rows = async (table: string) => (await db`select account_id, key, bucket, n::int as n, total from ${db(table)}
    where metric = 'conversations' and dim = 'agent' and slot = 0 order by 1, 2, 3`)
    .map((r) => [r['account_id'], r['key'], (r['bucket'] as Date).toISOString(), r['n'], r['total']]);
  t.same(await rows('report_rollups'), [
    ['ac_b1', 'ag_1', '2026-03-28T10:00:00.000Z', 2, 0], ['ac_b1', 'ag_1', '2026-03-28T23:00:00.000Z', 1, 0],
    ['ac_b1', 'ag_1', '2026-04-02T08:00:00.000Z', 1, 0], ['ac_b1', 'ag_2', '2026-03-29T01:00:00.000Z', 1, 0],
    ['ac_b2', 'ag_9', '2026-03-28T10:00:00.000Z', 1, 0],
  ], 'hourly: per account, assignee and UTC hour; the unassigned one in no agent row');
  t.same(await rows('report_rollups_daily'), [
    ['ac_b1', 'ag_1', '2026-03-28T00:00:00.000Z', 3, 0], ['ac_b1', 'ag_1', '2026-04-02T00:00:00.000Z', 1, 0],
    ['ac_b1', 'ag_2', '2026-03-29T00:00:00.000Z', 1, 0], ['ac_b2', 'ag_9', '2026-03-28T00:00:00.000Z', 1, 0],
  ], 'daily: per UTC day; the stale row overwritten');
  t.same(await rows('report_rollups_monthly'), [
    ['ac_b1', 'ag_1', '2026-03-01T00:00:00.000Z', 3, 0], ['ac_b1', 'ag_1', '2026-04-01T00:00:00.000Z', 1, 0],
    ['ac_b1', 'ag_2', '2026-03-01T00:00:00.000Z', 1, 0], ['ac_b2', 'ag_9', '2026-03-01T00:00:00.000Z', 1, 0],
  ], 'monthly: per UTC month');
  const tables = ['report_rollups', 'report_rollups_daily', 'report_rollups_monthly'];
  const backfilled = await Promise.all(tables.map(rows));
  await db`select rebuild_report_rollups('ac_b1')`;
  t.same(await Promise.all(tables.map(rows)), backfilled, 'rebuild_report_rollups makes the same agent rows');
  const [all] = await db`select sum(n)::int as n from report_rollups_monthly where account_id = 'ac_b1' and metric = 'conversations' and dim = 'all'`;
  t.equal(all?.['n'], 6, 'and counts every conversation of the account under dim all');
});

t.test('display ids are unique per account', async (t) => {
  const conv = (id: string, account: string, displayId: number) => ({
    id, account_id: account, inbox_id: 'in_1', contact_id: 'ct_1', display_id: displayId,
  });
  await migrated`insert into conversations ${migrated([conv('cv_u1', 'ac_u1', 1), conv('cv_u2', 'ac_u2', 1)])}`;
  await t.rejects(migrated`insert into conversations ${migrated(conv('cv_u3', 'ac_u1', 1))}`, {
    code: '23505',
    constraint_name: 'conversations_account_display_key',
  });
  await t.rejects(migrated`insert into conversations ${migrated({ ...conv('cv_u4', 'ac_u1', 2), status: 'closed' })}`, {
    code: '23514',
  }, 'status outside open/pending/snoozed/resolved is refused');
});

t.test('contact identifiers are unique per account when present', async (t) => {
  await migrated`insert into accounts ${migrated({ id: 'ac_c', name: 'A' })}`;
  const contact = (id: string, identifier: string | null) => ({ id, account_id: 'ac_c', identifier });
  await migrated`insert into contacts ${migrated([contact('ct_1', null), contact('ct_2', null), contact('ct_3', 'u-1')])}`;
  await t.rejects(migrated`insert into contacts ${migrated(contact('ct_4', 'u-1'))}`, { code: '23505' });
  const [row] = await migrated`
    insert into contacts ${migrated({ ...contact('ct_5', 'u-1'), name: 'New' })}
    on conflict (account_id, identifier) where identifier is not null do update set name = excluded.name
    returning id, name`;
  t.same(row, { id: 'ct_3', name: 'New' }, 'upsert by identifier keeps the first id');
});

const msg = (uid: string, createdAt: Date, content: string) => ({
  uid,
  stream_id: `${createdAt.getTime()}-0`,
  conversation_id: 'cv_m',
  account_id: 'ac_m',
  inbox_id: 'in_m',
  type: 'incoming',
  content,
  sender_type: 'contact',
  sender_id: 'ct_m',
  created_at: createdAt,
});

t.test('a message lands in the partition of its month', async (t) => {
  const now = new Date();
  const at = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 2, 15, 12));
  await migrated`insert into messages ${migrated(msg('mu_part', at, 'two months ahead'))}`;
  const [row] = await migrated`select tableoid::regclass::text as part from messages where uid = 'mu_part'`;
  t.equal(row?.['part'], partitionName(at));
});

t.test('a replayed batch inserts nothing twice', async (t) => {
  const at = new Date();
  const batch = [msg('mu_r1', at, 'one'), msg('mu_r2', new Date(at.getTime() + 1), 'two')];
  const firstInsert = await migrated`
    insert into messages ${migrated(batch)} on conflict (uid, created_at) do nothing returning uid`;
  const replay = await migrated`
    insert into messages ${migrated(batch)} on conflict (uid, created_at) do nothing returning uid`;
  t.equal(firstInsert.count, 2);
  t.equal(replay.count, 0);
  const [row] = await migrated`select count(*)::int as n from messages where uid in ('mu_r1', 'mu_r2')`;
  t.equal(row?.['n'], 2);
});

t.test('full-text search finds a message by a word, through the GIN index on the stored tsvector (00004)', async (t) => {
  const at = new Date();
  await migrated`insert into messages ${migrated([
    msg('mu_f1', at, 'Where is my refund for order 1234?'),
    msg('mu_f2', at, 'Thanks, all good now'),
  ])}`;
  const rows = await migrated`
    select uid from messages
     where content_tsv @@ plainto_tsquery('simple', 'REFUND')`;
  t.same(rows.map((r) => r['uid']), ['mu_f1']);
  const plan = await migrated.begin(async (tx) => {
    await tx`set local enable_seqscan = off`;
    return tx`explain select uid from messages
               where content_tsv @@ plainto_tsquery('simple', 'refund')`;
  });
  t.match(plan.map((r) => r['QUERY PLAN']).join('\n'), /Bitmap Index Scan/, 'content_tsv has its GIN index');
});

t.test('reporting events and CSAT answers are idempotent on their keys', async (t) => {
  const ev = { event_key: 'first_response:mu_x', name: 'first_response', value: 1500, account_id: 'ac_r' };
  const a = await migrated`insert into reporting_events ${migrated(ev)} on conflict (event_key) do nothing`;
  const b = await migrated`insert into reporting_events ${migrated(ev)} on conflict (event_key) do nothing`;
  t.same([a.count, b.count], [1, 0]);
  await t.rejects(
    migrated`insert into csat_responses ${migrated({ conversation_id: 'cv_r', account_id: 'ac_r', inbox_id: 'in_r', score: 6 })}`,
    { code: '23514' },
  );
});

t.test('ensurePartitionsAhead creates missing months and moves stranded rows', async (t) => {
  const far = new Date(Date.UTC(2099, 0, 20));
  const stranded = new Date(Date.UTC(2099, 1, 28, 23, 59));
  await migrated`insert into messages ${migrated(msg('mu_s', stranded, 'early bird'))}`;
  const [before] = await migrated`select tableoid::regclass::text as part from messages where uid = 'mu_s'`;
  t.equal(before?.['part'], 'messages_default');
  t.same(await ensurePartitionsAhead(migrated, far, 1), ['messages_y2099m01', 'messages_y2099m02']);
  t.same(await ensurePartitionsAhead(migrated, far, 1), [], 'a second call creates nothing');
  const [after] = await migrated`select tableoid::regclass::text as part from messages where uid = 'mu_s'`;
  t.equal(after?.['part'], 'messages_y2099m02');
  await t.rejects(ensurePartitionsAhead(migrated, far, -1), /bad months/);
});

t.test('partition bounds are UTC months whatever the session time zone', async (t) => {
  const [row] = await migrated.begin(async (tx) => {
    await tx`set local timezone = 'Pacific/Auckland'`;
    await tx`select ensure_message_partitions('2098-07-01', 1)`;
    await tx`set local timezone = 'UTC'`;
    return tx`select pg_get_expr(relpartbound, oid) as bound from pg_class where relname = 'messages_y2098m07'`;
  });
  t.equal(row?.['bound'], "FOR VALUES FROM ('2098-07-01 00:00:00+00') TO ('2098-08-01 00:00:00+00')");
  t.equal(utcMonthStart(Date.UTC(2024, 11, 31, 23, 59)), '2024-12-01');
});

function partitionName(d: Date): string {
  return `messages_y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

function dbUrl(sql: Sql): string {
  const o = sql.options;
  const url = new URL(pg.url);
  url.pathname = `/${o.database}`;
  return url.toString();
}

t.test('stream_id_key orders stream ids numerically, not as text', async (t) => {
  const rows = await migrated<{ id: string }[]>`
    select id from unnest(array['10-0', '9-5', '9-10', '1732212345678-0', '9']) as id order by stream_id_key(id)`;
  t.same(rows.map((r) => r.id), ['9', '9-5', '9-10', '10-0', '1732212345678-0']);
});
