-- 00008_assignee_rollups: conversations counted per agent (their current assignee) in the report
-- rollups. Forward-only.

-- Conversations by agent came from the rows (the assignee changes after creation, so a count made at
-- creation went stale): a year's agents table scanned every conversation. The archiver now keeps
-- dim 'agent' rows for 'conversations' under the current assignee and moves a conversation's count
-- from the old assignee to the new one in the batch that changes it (archiver/sql/conversations.ts).

-- rebuild_report_rollups (00006; it calls rebuild_report_rollups_daily, which rebuilds the months,
-- 00007) now makes those rows too: the conversations branch carries its assignee as its agent
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
      select 'conversations' as metric, date_trunc('hour', created_at) as bucket, inbox_id, coalesce(assignee_id, '') as agent_id, 0 as slot, 0::float8 as v
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

-- backfill: archives from before this migration have no such rows; each grain's from the
-- conversations as they are now, one statement a grain. The conversations are the truth, so a row
-- already there (none should be) takes their count.
insert into report_rollups (account_id, metric, dim, key, bucket, slot, n, total)
select account_id, 'conversations', 'agent', assignee_id, date_trunc('hour', created_at, 'UTC'), 0, count(*), 0
  from conversations where assignee_id <> ''
 group by account_id, assignee_id, date_trunc('hour', created_at, 'UTC')
on conflict (account_id, metric, dim, key, bucket, slot) do update set n = excluded.n, total = 0;

insert into report_rollups_daily (account_id, metric, dim, key, bucket, slot, n, total)
select account_id, 'conversations', 'agent', assignee_id, date_trunc('day', created_at, 'UTC'), 0, count(*), 0
  from conversations where assignee_id <> ''
 group by account_id, assignee_id, date_trunc('day', created_at, 'UTC')
on conflict (account_id, metric, dim, key, bucket, slot) do update set n = excluded.n, total = 0;

insert into report_rollups_monthly (account_id, metric, dim, key, bucket, slot, n, total)
select account_id, 'conversations', 'agent', assignee_id, date_trunc('month', created_at, 'UTC'), 0, count(*), 0
  from conversations where assignee_id <> ''
 group by account_id, assignee_id, date_trunc('month', created_at, 'UTC')
on conflict (account_id, metric, dim, key, bucket, slot) do update set n = excluded.n, total = 0;
