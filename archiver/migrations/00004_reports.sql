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
-- metric, 15-minute UTC bucket (every time zone's hours and days are made of whole 15-minute
-- buckets), inbox and agent ('' = none): the count, the sum of the values (ms; for csat the scores),
-- the sum inside business hours, and a histogram of the values (64 log buckets, ×1.3 from 1 s:
-- p50/p90 estimates; for csat the five score counts). The archiver adds what each batch inserts,
-- in the batch's transaction (idempotent with it: only rows actually inserted are counted).
-- Metrics and their agent: conversations (''), incoming_messages and outgoing_messages (the
-- conversation's assignee when the contact wrote / the sender), first_response, reply_time,
-- conversation_resolved (the event's agent), csat (the assignee when rated).
alter table messages add column assignee_id text; -- the conversation's assignee when the message came in

create table report_rollups (
  account_id  text not null,
  metric      text not null,
  bucket      timestamptz not null,
  inbox_id    text not null default '',
  agent_id    text not null default '',
  n           bigint not null default 0,
  total       double precision not null default 0,
  total_bh    double precision not null default 0,
  hist        int[] not null,
  hist_bh     int[] not null,
  primary key (account_id, metric, bucket, inbox_id, agent_id)
);

-- the histogram bucket (1-based) of a value in ms
create function report_hist_slot(v double precision) returns int
language sql immutable parallel safe
as $$ select case when v < 1000 then 1 else least(64, 2 + floor(ln(v / 1000.0) / ln(1.3))::int) end $$;

-- element-wise sum of two histograms (same length)
create function report_hist_add(a int[], b int[]) returns int[]
language sql immutable parallel safe
as $$ select array_agg(coalesce(x, 0) + coalesce(y, 0) order by i) from unnest(a, b) with ordinality as u(x, y, i) $$;

create aggregate report_hist_sum(int[]) (sfunc = report_hist_add, stype = int[]);

-- a histogram from slots and counts
create function report_hist(slots int[], counts bigint[], size int) returns int[]
language sql immutable parallel safe
as $$
  select array_agg(coalesce(c, 0)::int order by s)
    from generate_series(1, size) as s
    left join (select x as slot, sum(y) as c from unnest(slots, counts) as u(x, y) group by x) h on h.slot = s
$$;

-- conversations by agent read the current assignee
create index conversations_account_assignee_created_idx on conversations (account_id, assignee_id, created_at);
-- raw report reads of messages by inbox or agent over a range
create index messages_account_inbox_created_idx on messages (account_id, inbox_id, created_at);

-- (re)builds the rollups of one account from its rows (backfill; the archiver keeps them after)
create function rebuild_report_rollups(acct text) returns bigint
language plpgsql
as $$
declare
  inserted bigint;
begin
  delete from report_rollups where account_id = acct;
  insert into report_rollups (account_id, metric, bucket, inbox_id, agent_id, n, total, total_bh, hist, hist_bh)
  select acct, metric, bucket, inbox_id, agent_id, sum(n), sum(total), sum(total_bh),
         report_hist(array_agg(slot), array_agg(n), size), report_hist(array_agg(slot_bh), array_agg(n), size)
    from (
      select metric, bucket, inbox_id, agent_id, slot, slot_bh, size, count(*) as n, sum(v) as total, sum(vbh) as total_bh
        from (
          select 'conversations' as metric, date_bin('15 minutes', created_at, 'epoch') as bucket, inbox_id, '' as agent_id,
                 0::float8 as v, 0::float8 as vbh, 1 as slot, 1 as slot_bh, 1 as size
            from conversations where account_id = acct
          union all
          select case when type = 'incoming' then 'incoming_messages' else 'outgoing_messages' end,
                 date_bin('15 minutes', created_at, 'epoch'), inbox_id,
                 coalesce(case when type = 'incoming' then assignee_id else sender_id end, ''), 0, 0, 1, 1, 1
            from messages
           where account_id = acct and (type = 'incoming' or (type = 'outgoing' and not private and sender_type = 'agent'))
          union all
          select name, date_bin('15 minutes', created_at, 'epoch'), coalesce(inbox_id, ''), coalesce(agent_id, ''),
                 value, coalesce(value_in_business_hours, value), report_hist_slot(value),
                 report_hist_slot(coalesce(value_in_business_hours, value)), 64
            from reporting_events where account_id = acct and name in ('first_response', 'reply_time', 'conversation_resolved')
          union all
          select 'csat', date_bin('15 minutes', created_at, 'epoch'), inbox_id, coalesce(agent_id, ''), score, score, score, score, 5
            from csat_responses where account_id = acct
        ) rows
       group by metric, bucket, inbox_id, agent_id, slot, slot_bh, size
    ) slots
   group by metric, bucket, inbox_id, agent_id, size;
  get diagnostics inserted = row_count;
  return inserted;
end;
$$;

select rebuild_report_rollups(id) from accounts;
