-- 00005_webhooks: the outgoing webhooks' durable delivery queue, owned by the dispatcher
-- (archiver/webhooks/). One row per (webhook, event): its id is the X-Parley-Delivery id, minted
-- from the webhook id and the event's uid, so taking the same stream entry in twice (a crash
-- before XACK) inserts nothing twice. Webhook definitions live in Redis (lua/webhooks.ts).
-- Forward-only. (00004 is another change's number; the runner applies files in numeric order
-- and accepts gaps.)

create table webhook_deliveries (
  id               text primary key,
  webhook_id       text not null,
  account_id       text not null,
  event            text not null,
  -- order is kept per lane (a conversation, or a contact), in partition-stream order
  lane             text not null,
  stream_ms        bigint not null,
  stream_seq       bigint not null,
  -- the exact body sent on every attempt (the signature is computed over it per attempt)
  body             text not null,
  status           text not null default 'pending' check (status in ('pending', 'delivered', 'failed', 'dead')),
  attempts         integer not null default 0,
  last_status_code integer,
  last_error       text,
  last_attempt_at  timestamptz,
  -- null = waiting behind an earlier delivery of its lane (or finished); only a lane's head is armed
  next_attempt_at  timestamptz,
  -- the retry age counts from here (created, or replayed)
  window_start     timestamptz not null default now(),
  lease_until      timestamptz,
  lease_owner      text,
  delivered_at     timestamptz,
  created_at       timestamptz not null default now()
);

-- what is due: armed heads of lanes that are owed
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at)
  where status in ('pending', 'failed') and next_attempt_at is not null;
-- a lane's owed deliveries in order (its head, "is anything earlier owed?")
create index webhook_deliveries_lane on webhook_deliveries (webhook_id, lane, stream_ms, stream_seq)
  where status in ('pending', 'failed');
-- the deliveries route (newest first) and the retention sweep
create index webhook_deliveries_list on webhook_deliveries (webhook_id, created_at desc);
create index webhook_deliveries_dead on webhook_deliveries (webhook_id) where status = 'dead';
