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
