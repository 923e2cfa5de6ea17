-- 00004_reports: message edits and deletions, reports, business hours, search. Forward-only.

-- message.updated (edit or delete) is written in place: the row carries the message as it now is and
-- when it last changed (the newest change wins; eviction checks Redis's edits against it).
alter table messages add column updated_at timestamptz;
