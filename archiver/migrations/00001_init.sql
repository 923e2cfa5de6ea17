-- 00001_init: the archive schema. Forward-only: never edit this file once applied; add 00002_*.sql.
--
-- Ids are opaque TEXT minted by the engine (e.g. 'cv_x3F...'). Times are timestamptz (the engine's
-- millisecond clocks converted with to_timestamp(ms / 1000.0)). The archive is a projection of the
-- engine's partition event streams, written by the archiver in idempotent batches:
--   * configuration rows (accounts, inboxes, agents, contacts) carry foreign keys;
--   * stream-fed rows (conversations, messages, reporting_events, csat_responses) do not: a batch
--     must never wedge on a missing parent, and the engine (sole writer of live state) guarantees
--     the parents exist. Messages and reporting events are append-only and high volume.
-- runMigrations (archiver/migrate.ts) applies this file in one transaction under an advisory lock.

create table accounts (
  id          text primary key,
  name        text not null,
  created_at  timestamptz not null default now()
);

create table inboxes (
  id                  text primary key,
  account_id          text not null references accounts (id),
  name                text not null,
  website_token       text not null unique,
  allowed_origins     jsonb not null default '[]'::jsonb check (jsonb_typeof(allowed_origins) = 'array'),
  messages_per_minute int not null default 200 check (messages_per_minute > 0),
  auto_assign         boolean not null default true,
  created_at          timestamptz not null default now(),
  updated_at          timestamptz not null default now()
);
create index inboxes_account_idx on inboxes (account_id);

create table agents (
  id                text primary key,
  account_id        text not null references accounts (id),
  name              text not null,
  role              text not null default 'agent' check (role in ('administrator', 'agent')),
  max_conversations int check (max_conversations is null or max_conversations >= 0), -- null = no cap
  availability      text not null default 'offline' check (availability in ('online', 'busy', 'offline')),
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now()
);
create index agents_account_idx on agents (account_id);

-- Agent <-> inbox membership (the protocol's Agent.inboxIds).
create table inbox_members (
  inbox_id    text not null references inboxes (id) on delete cascade,
  agent_id    text not null references agents (id) on delete cascade,
  created_at  timestamptz not null default now(),
  primary key (inbox_id, agent_id)
);
create index inbox_members_agent_idx on inbox_members (agent_id);

create table contacts (
  id                text primary key,
  account_id        text not null references accounts (id),
  name              text,
  email             text,
  phone             text,
  identifier        text, -- the customer's own id (verified via identifier_hash, or API channel)
  verified          boolean not null default false,
  custom_attributes jsonb not null default '{}'::jsonb,
  last_seen_at      timestamptz,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now()
);
-- Upsert with: on conflict (account_id, identifier) where identifier is not null do update ...
create unique index contacts_account_identifier_key on contacts (account_id, identifier)
  where identifier is not null;
create index contacts_account_email_idx on contacts (account_id, email) where email is not null;

-- A contact as seen through one inbox. source_id: the widget session or the API channel's
-- contact identifier, unique per inbox.
create table contact_inboxes (
  contact_id    text not null references contacts (id) on delete cascade,
  inbox_id      text not null references inboxes (id) on delete cascade,
  source_id     text,
  hmac_verified boolean not null default false,
  created_at    timestamptz not null default now(),
  primary key (contact_id, inbox_id)
);
create unique index contact_inboxes_inbox_source_key on contact_inboxes (inbox_id, source_id)
  where source_id is not null;

create table conversations (
  id                      text primary key,
  account_id              text not null,
  inbox_id                text not null,
  contact_id              text not null,
  display_id              int not null check (display_id > 0), -- per account, minted by Redis INCR
  status                  text not null default 'open'
                          check (status in ('open', 'pending', 'snoozed', 'resolved')),
  priority                text check (priority in ('low', 'medium', 'high', 'urgent')),
  assignee_id             text, -- agents.id, null = unassigned
  waiting_since           timestamptz,
  first_reply_created_at  timestamptz,
  last_activity_at        timestamptz not null default now(),
  agent_last_seen_at      timestamptz,
  assignee_last_seen_at   timestamptz,
  contact_last_seen_at    timestamptz,
  snoozed_until           timestamptz,
  custom_attributes       jsonb not null default '{}'::jsonb,
  additional_attributes   jsonb not null default '{}'::jsonb,
  branch                  text,
  region                  text,
  rating_score            smallint check (rating_score between 1 and 5),
  rating_comment          text,
  rated_at                timestamptz,
  created_at              timestamptz not null default now(),
  updated_at              timestamptz not null default now(),
  constraint conversations_account_display_key unique (account_id, display_id)
);
-- conversation.list (by inbox/status/assignee, newest activity first)
create index conversations_list_idx
  on conversations (account_id, inbox_id, status, assignee_id, last_activity_at);
-- conversation.list without an inbox filter (assignee = me / unassigned / all)
create index conversations_assignee_idx
  on conversations (account_id, status, assignee_id, last_activity_at);
-- reports summary: conversations created in [since, until)
create index conversations_account_created_idx on conversations (account_id, created_at);
create index conversations_contact_idx on conversations (contact_id);

-- Messages, range-partitioned by month on created_at (UTC month boundaries).
--
-- uid is the idempotency key minted by the engine when the message was accepted (the stream id
-- alone is not: after a Redis failover stream ids can be handed out again). A unique key on a
-- partitioned table must include the partition key, so the key is (uid, created_at). That is
-- still a correct dedupe key: created_at is minted together with uid, in the same append, and
-- never changes afterwards, so every replay of a message carries the same (uid, created_at)
-- pair and lands in the same partition. Insert with
--   on conflict (uid, created_at) do nothing
-- A reused stream_id with a different uid is therefore a new row, never a silent drop; the
-- archiver can detect it by (conversation_id, stream_id).
create table messages (
  uid                 text not null,
  stream_id           text,          -- the Redis Stream id, the protocol's Message.id
  conversation_id     text not null,
  account_id          text not null,
  inbox_id            text not null,
  type                text not null check (type in ('incoming', 'outgoing', 'activity', 'template')),
  content             text,
  content_type        text not null default 'text',
  content_attributes  jsonb not null default '{}'::jsonb,
  private             boolean not null default false,
  echo_id             text,
  source_id           text,
  status              text not null default 'sent' check (status in ('sent', 'delivered', 'read', 'failed')),
  sender_type         text check (sender_type in ('contact', 'agent', 'system')),
  sender_id           text,
  created_at          timestamptz not null,
  constraint messages_pkey primary key (uid, created_at)
) partition by range (created_at);

-- history and resume fallback: a conversation's messages in order
create index messages_conversation_created_idx on messages (conversation_id, created_at);
-- reused stream id detection and history paging by message id
create index messages_conversation_stream_idx on messages (conversation_id, stream_id);
-- API-channel sourceId lookups once the Redis dedupe key has expired
create index messages_inbox_source_idx on messages (inbox_id, source_id) where source_id is not null;
-- reports: incoming/outgoing counts per account over a time range
create index messages_account_created_idx on messages (account_id, created_at, type);
-- full-text search: where to_tsvector('simple', content) @@ plainto_tsquery('simple', $1)
create index messages_content_fts_idx on messages using gin (to_tsvector('simple', content));

-- Creates the monthly partitions messages_yYYYYmMM for `months` months starting with the UTC
-- month that contains from_month, plus messages_default as a safety net, each only if missing.
-- Returns the names of the partitions it created. Rows that already sit in messages_default for
-- a month being created are moved into the new partition (otherwise Postgres refuses to create
-- it). Serialized by an advisory lock so concurrent archivers do not race on CREATE TABLE.
create function ensure_message_partitions(from_month date, months int)
returns setof text
language plpgsql
as $$
declare
  first_month date := date_trunc('month', from_month)::date;
  lo          date;
  hi          date;
  part        text;
  stranded    bigint;
begin
  if months is null or months < 0 then
    raise exception 'ensure_message_partitions: months must be >= 0, got %', months;
  end if;
  perform pg_advisory_xact_lock(7061726300001); -- 'parley partitions'

  if to_regclass('messages_default') is null then
    create table messages_default partition of messages default;
    return next 'messages_default';
  end if;

  for i in 0 .. months - 1 loop
    lo := (first_month + make_interval(months => i))::date;
    hi := (first_month + make_interval(months => i + 1))::date;
    part := format('messages_y%sm%s', to_char(lo, 'YYYY'), to_char(lo, 'MM'));
    continue when to_regclass(part) is not null;

    select count(*) into stranded from messages_default
     where created_at >= (lo::timestamp at time zone 'UTC')
       and created_at <  (hi::timestamp at time zone 'UTC');
    if stranded > 0 then
      create temp table ensure_message_partitions_moved on commit drop as
        select * from messages_default
         where created_at >= (lo::timestamp at time zone 'UTC')
           and created_at <  (hi::timestamp at time zone 'UTC');
      delete from messages_default
       where created_at >= (lo::timestamp at time zone 'UTC')
         and created_at <  (hi::timestamp at time zone 'UTC');
    end if;

    execute format(
      'create table %I partition of messages for values from (%L) to (%L)',
      part, lo::timestamp at time zone 'UTC', hi::timestamp at time zone 'UTC');

    if stranded > 0 then
      insert into messages select * from ensure_message_partitions_moved;
      drop table ensure_message_partitions_moved;
    end if;
    return next part;
  end loop;
end;
$$;

select ensure_message_partitions((now() at time zone 'UTC')::date, 4); -- this month and 3 ahead

-- Reporting events (first_response, reply_time, conversation_resolved, conversation_opened,
-- conversation_bot_resolved, conversation_bot_handoff), value in milliseconds.
-- event_key is derived from the source event by the archiver (e.g. '<name>:<message uid>' or
-- '<name>:<conversation id>:<event uid>'), never from a stream id alone, so replaying a batch
-- inserts nothing twice: on conflict (event_key) do nothing.
-- created_at is when the event happened (event_end_time), not when it was archived, so archiver
-- lag or replays never move an event between report buckets.
create table reporting_events (
  id                bigserial primary key,
  event_key         text not null,
  name              text not null,
  value             double precision not null,
  account_id        text not null,
  inbox_id          text,
  agent_id          text,
  conversation_id   text,
  event_start_time  timestamptz,
  event_end_time    timestamptz,
  created_at        timestamptz not null default now(),
  constraint reporting_events_event_key_key unique (event_key)
);
create index reporting_events_account_name_created_idx
  on reporting_events (account_id, name, created_at);
create index reporting_events_account_name_inbox_created_idx
  on reporting_events (account_id, name, inbox_id, created_at);
create index reporting_events_account_name_agent_created_idx
  on reporting_events (account_id, name, agent_id, created_at);
create index reporting_events_conversation_idx on reporting_events (conversation_id);

-- One CSAT answer per conversation (a re-rating upserts on conversation_id).
create table csat_responses (
  conversation_id text primary key,
  account_id      text not null,
  inbox_id        text not null,
  agent_id        text, -- the assignee when rated
  score           smallint not null check (score between 1 and 5),
  comment         text,
  created_at      timestamptz not null default now()
);
create index csat_responses_account_created_idx on csat_responses (account_id, created_at);

-- Stream watermarks: the last partition-stream entry id committed to PostgreSQL, written in the
-- same transaction as the batch it ends.
create table archiver_checkpoints (
  partition   int primary key check (partition >= 0),
  last_id     text not null,
  updated_at  timestamptz not null default now()
);
