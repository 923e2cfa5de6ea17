-- 00002_consumer: what the stream consumer needs beyond 00001. Forward-only.

-- Stream ids ('<ms>-<seq>') in numeric order: text order is wrong ('9-0' > '10-0').
create function stream_id_key(id text) returns numeric[]
language sql immutable strict parallel safe
as $$ select array[split_part(id, '-', 1)::numeric, coalesce(nullif(split_part(id, '-', 2), ''), '0')::numeric] $$;

-- A conversation row holds the state carried by the newest event seen for it: updated_at is that
-- event's ts (the engine's clock) and event_id its partition-stream id, the tie-break when two
-- events share a millisecond. An upsert only lands when (ts, event id) is newer, so batches that
-- several archivers commit out of order, or replays, never move a conversation back in time.
alter table conversations add column event_id text;

-- An inbox's auto-resolve window (inbox.updated), with the time it was set: the newest setting wins.
alter table inboxes add column auto_resolve_after_ms bigint;
alter table inboxes add column auto_resolve_set_at timestamptz;

-- History pages in (created_at, stream id) order.
create index messages_conversation_created_stream_idx
  on messages (conversation_id, created_at, stream_id_key(stream_id));
drop index messages_conversation_created_idx;

-- reports: first response / resolution / reopen events of one conversation
create index reporting_events_conversation_name_idx
  on reporting_events (conversation_id, name, event_end_time);
drop index reporting_events_conversation_idx;

-- Entries the archiver could not write even alone (a constraint the engine's data broke): kept
-- here whole, with the error, in the same transaction that acknowledges them, so nothing is ever
-- dropped silently. dead_key = '<partition>:<stream id>:<event uid>' (replays insert nothing twice).
create table archiver_dead_letters (
  dead_key    text primary key,
  partition   int not null,
  stream_id   text not null,
  event_type  text,
  fields      jsonb not null,
  error       text not null,
  created_at  timestamptz not null default now()
);
