-- 00006_daily_rollups: report rollups per UTC day beside the hourly ones (00004). Forward-only.

-- The same rows as report_rollups, summed per UTC day (bucket = 00:00 UTC of the day). The archiver
-- adds to both in the batch's transaction (archiver/sql/rollups.ts: what the batch really inserted,
-- so a replay adds nothing). Reports read the whole UTC days of a range from here and the partial
-- days at its edges from the hourly rows (engine/reports/rollups.ts): a year per agent is 365 rows a
-- slot instead of 8760.
create table report_rollups_daily (
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
-- per-agent and per-inbox tables read every key of a dimension over a range
create index report_rollups_daily_range_idx on report_rollups_daily (account_id, metric, dim, bucket) include (key, slot, n, total);

-- (re)builds one account's daily rollups from its hourly ones
create function rebuild_report_rollups_daily(acct text) returns bigint
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
  return inserted;
end;
$$;

-- rebuild_report_rollups (00004) now rebuilds the daily rows too: the same hourly rebuild, then the days
create or replace function rebuild_report_rollups(acct text) returns bigint
language plpgsql
as $$
declare
  inserted bigint;
begin
  delete from report_rollups where account_id = acct;
  insert into report_rollups (account_id, metric, dim, key, bucket, slot, n, total)
  select acct, metric, d.dim, d.key, bucket, slot, count(*), sum(v)
    from (
      select 'conversations' as metric, date_trunc('hour', created_at) as bucket, inbox_id, '' as agent_id, 0 as slot, 0::float8 as v
        from conversations where account_id = acct
      union all
      select case when type = 'incoming' then 'incoming_messages' else 'outgoing_messages' end, date_trunc('hour', created_at), inbox_id,
             coalesce(case when type = 'incoming' then assignee_id else sender_id end, ''), 0, 0
        from messages
       where account_id = acct and (type = 'incoming' or (type = 'outgoing' and not private and sender_type = 'agent'))
      union all
      select name, date_trunc('hour', created_at), coalesce(inbox_id, ''), coalesce(agent_id, ''), report_hist_slot(value), value
        from reporting_events where account_id = acct and name in ('first_response', 'reply_time', 'conversation_resolved')
      union all
      select name || ':bh', date_trunc('hour', created_at), coalesce(inbox_id, ''), coalesce(agent_id, ''),
             report_hist_slot(coalesce(value_in_business_hours, value)), coalesce(value_in_business_hours, value)
        from reporting_events where account_id = acct and name in ('first_response', 'reply_time', 'conversation_resolved')
      union all
      select 'csat', date_trunc('hour', created_at), inbox_id, coalesce(agent_id, ''), score, score
        from csat_responses where account_id = acct
    ) r
    cross join lateral (values ('all', ''), ('inbox', r.inbox_id), ('agent', r.agent_id)) as d(dim, key)
   where d.dim = 'all' or d.key <> ''
   group by metric, d.dim, d.key, bucket, slot;
  get diagnostics inserted = row_count;
  perform rebuild_report_rollups_daily(acct);
  return inserted;
end;
$$;

-- backfill: archives from before this migration have hourly rows only; their days, in one statement
insert into report_rollups_daily (account_id, metric, dim, key, bucket, slot, n, total)
select account_id, metric, dim, key, date_trunc('day', bucket, 'UTC'), slot, sum(n), sum(total)
  from report_rollups
 group by account_id, metric, dim, key, date_trunc('day', bucket, 'UTC'), slot;
