-- 00004_reports: message edits and deletions, reports, business hours, search. Forward-only.

-- message.updated (edit or delete) is written in place: the row carries the message as it now is and
-- when it last changed (the newest change wins; eviction checks Redis's edits against it).
alter table messages add column updated_at timestamptz;

-- Business hours per inbox (PATCH …/inboxes/:id {businessHours: {timezone, weekly}}, null = always
-- open): set_at orders the inbox.updated events that carry them (the newest setting wins).
alter table inboxes add column business_hours jsonb;
alter table inboxes add column business_hours_set_at timestamptz;

-- Milliseconds of [s, e) inside the weekly business hours, in the IANA zone tz. weekly:
-- {"mon": [{"open": "09:00", "close": "17:00"}], ..., "sun": []} (a missing day is closed, "24:00"
-- closes at midnight). Each local day's ranges become instants with AT TIME ZONE, so a day with a
-- DST change has its real length.
create function business_ms(s timestamptz, e timestamptz, tz text, weekly jsonb) returns double precision
language sql stable parallel safe
as $$
  select coalesce(sum(greatest(0::numeric,
           extract(epoch from least(e, (d + (r->>'close')::time) at time zone tz))
         - extract(epoch from greatest(s, (d + (r->>'open')::time) at time zone tz)))), 0)::float8 * 1000
    from generate_series(date_trunc('day', s at time zone tz), date_trunc('day', e at time zone tz), interval '1 day') as d
         cross join lateral jsonb_array_elements(coalesce(weekly -> to_char(d, 'dy'), '[]'::jsonb)) as r
   where s < e
$$;

-- Reporting events carry their value counted inside the inbox's business hours as they were when
-- the event was archived (as Chatwoot does); null when the inbox has none (always open).
alter table reporting_events add column value_in_business_hours double precision;

-- Search (engine/search): contacts by every word of the query as a prefix of their name, email or
-- identifier; messages by content through messages_content_fts_idx (00001).
create index contacts_search_idx on contacts using gin (
  to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(email, '') || ' ' || coalesce(identifier, '')));

-- Message search reads a stored tsvector instead of recomputing to_tsvector per row: the GIN index
-- finds rare words, and for common ones the newest matches come from a backward scan of
-- messages_account_created_idx filtered by the cheap stored column (engine/search/query.ts). This
-- replaces the expression index of 00001, which no query used.
alter table messages add column content_tsv tsvector generated always as (to_tsvector('simple', coalesce(content, ''))) stored;
create index messages_content_tsv_idx on messages using gin (content_tsv);
drop index messages_content_fts_idx;

-- ensure_message_partitions (00001) moves rows stranded in messages_default with `insert ... select *`,
-- which a generated column refuses: the same function, moving the stored (non-generated) columns only.
create or replace function ensure_message_partitions(from_month date, months int)
returns setof text
language plpgsql
as $$
declare
  first_month date := date_trunc('month', from_month)::date;
  lo          date;
  hi          date;
  part        text;
  stranded    bigint;
  cols        text;
begin
  if months is null or months < 0 then
    raise exception 'ensure_message_partitions: months must be >= 0, got %', months;
  end if;
  perform pg_advisory_xact_lock(7061726300001); -- 'parley partitions'

  if to_regclass('messages_default') is null then
    create table messages_default partition of messages default;
    return next 'messages_default';
  end if;

  select string_agg(quote_ident(column_name), ', ' order by ordinal_position) into cols
    from information_schema.columns
   where table_schema = current_schema() and table_name = 'messages' and is_generated = 'NEVER';

  for i in 0 .. months - 1 loop
    lo := (first_month + make_interval(months => i))::date;
    hi := (first_month + make_interval(months => i + 1))::date;
    part := format('messages_y%sm%s', to_char(lo, 'YYYY'), to_char(lo, 'MM'));
    continue when to_regclass(part) is not null;

    select count(*) into stranded from messages_default
     where created_at >= (lo::timestamp at time zone 'UTC')
       and created_at <  (hi::timestamp at time zone 'UTC');
    if stranded > 0 then
      execute format('create temp table ensure_message_partitions_moved on commit drop as select %s from messages_default '
        'where created_at >= %L and created_at < %L', cols, lo::timestamp at time zone 'UTC', hi::timestamp at time zone 'UTC');
      delete from messages_default
       where created_at >= (lo::timestamp at time zone 'UTC')
         and created_at <  (hi::timestamp at time zone 'UTC');
    end if;

    execute format(
      'create table %I partition of messages for values from (%L) to (%L)',
      part, lo::timestamp at time zone 'UTC', hi::timestamp at time zone 'UTC');

    if stranded > 0 then
      execute format('insert into messages (%s) select %s from ensure_message_partitions_moved', cols, cols);
      drop table ensure_message_partitions_moved;
    end if;
    return next part;
  end loop;
end;
$$;

-- ---- report rollups ------------------------------------------------------------------------
-- Reports over long ranges read these instead of every row (engine/reports/rollups.ts): per account,
-- metric, hour (UTC; every zone with whole-hour offsets builds its hours and days from them) and
-- dimension — the whole account ('all', key ''), one inbox ('inbox', its id), one agent ('agent', its
-- id) — and value slot: the count and the sum of the values. Times keep a histogram as slots (64 log
-- slots, ×1.3 from 1 s: report_hist_slot) so p50/p90 can be estimated; their business-hours values are
-- the metric '<name>:bh'; CSAT slots are the scores; counts use slot 0. The archiver adds what each
-- batch inserts in the batch's transaction (only rows really inserted count: replays add nothing).
-- Metrics and their agent: conversations (none), incoming_messages (the conversation's assignee when
-- the contact wrote), outgoing_messages (the sender), first_response, reply_time,
-- conversation_resolved (the event's agent), csat (the assignee when rated).
alter table messages add column assignee_id text; -- the conversation's assignee when the message came in

create table report_rollups (
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
create index report_rollups_range_idx on report_rollups (account_id, metric, dim, bucket) include (key, slot, n, total);

-- the histogram slot of a value in ms (archiver/sql/rollups.ts histSlot)
create function report_hist_slot(v double precision) returns int
language sql immutable parallel safe
as $$ select case when v < 1000 then 1 else least(64, 2 + floor(ln(v / 1000.0) / ln(1.3))::int) end $$;

-- conversations by agent read the current assignee
create index conversations_account_assignee_created_idx on conversations (account_id, assignee_id, created_at);
-- raw report reads of messages by inbox over a range
create index messages_account_inbox_created_idx on messages (account_id, inbox_id, created_at);

-- (re)builds the rollups of one account from its rows (backfill; the archiver keeps them after)
create function rebuild_report_rollups(acct text) returns bigint
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
  return inserted;
end;
$$;

select rebuild_report_rollups(id) from accounts;
