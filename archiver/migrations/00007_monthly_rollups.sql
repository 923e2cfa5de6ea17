-- 00007_monthly_rollups: report rollups per UTC month beside the hourly (00004) and daily (00006)
-- ones. Forward-only.

-- The same rows as report_rollups_daily, summed per UTC month (bucket = 00:00 UTC of its first
-- day). The archiver adds to all three in the batch's transaction (archiver/sql/rollups.ts). Reports
-- read the whole UTC months of a range from here (engine/reports/rollups.ts splitRange): a year per
-- agent is 12 rows a slot instead of 365 (bench:reports: "agents, 365 days" read 291k daily rows).
create table report_rollups_monthly (
  account_id  text not null,
  metric      text not null,
  dim         text not null check (dim in ('all', 'inbox', 'agent')),
  key         text not null,
  bucket      timestamptz not null,
  slot        smallint not null,
  n           bigint not null,
  total       double precision not null,
  primary key (account_id, metric, dim, key, bucket, slot)
);
create index report_rollups_monthly_range_idx on report_rollups_monthly (account_id, metric, dim, bucket) include (key, slot, n, total);

-- (re)builds one account's monthly rollups from its daily ones
create function rebuild_report_rollups_monthly(acct text) returns bigint
language plpgsql
as $$
declare
  inserted bigint;
begin
  delete from report_rollups_monthly where account_id = acct;
  insert into report_rollups_monthly (account_id, metric, dim, key, bucket, slot, n, total)
  select account_id, metric, dim, key, date_trunc('month', bucket, 'UTC'), slot, sum(n), sum(total)
    from report_rollups_daily where account_id = acct
   group by account_id, metric, dim, key, date_trunc('month', bucket, 'UTC'), slot;
  get diagnostics inserted = row_count;
  return inserted;
end;
$$;

-- rebuild_report_rollups_daily (00006, called by rebuild_report_rollups) now rebuilds the months too
create or replace function rebuild_report_rollups_daily(acct text) returns bigint
language plpgsql
as $$
declare
  inserted bigint;
begin
  delete from report_rollups_daily where account_id = acct;
  insert into report_rollups_daily (account_id, metric, dim, key, bucket, slot, n, total)
  select account_id, metric, dim, key, date_trunc('day', bucket, 'UTC'), slot, sum(n), sum(total)
    from report_rollups where account_id = acct
   group by account_id, metric, dim, key, date_trunc('day', bucket, 'UTC'), slot;
  get diagnostics inserted = row_count;
  perform rebuild_report_rollups_monthly(acct);
  return inserted;
end;
$$;

-- backfill: archives from before this migration have hourly and daily rows; their months, in one statement
insert into report_rollups_monthly (account_id, metric, dim, key, bucket, slot, n, total)
select account_id, metric, dim, key, date_trunc('month', bucket, 'UTC'), slot, sum(n), sum(total)
  from report_rollups_daily
 group by account_id, metric, dim, key, date_trunc('month', bucket, 'UTC'), slot;
