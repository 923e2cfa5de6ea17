-- 00003_admin: what the admin API's updates and removals need. Forward-only.

-- Profile changes (agent.updated / inbox.updated with `changed`) are ordered by their own time:
-- agents.updated_at orders availability changes, which arrive independently. A creation event
-- committed after a newer profile change (several archivers share a partition) changes nothing.
alter table agents add column profile_updated_at timestamptz;
alter table inboxes add column profile_updated_at timestamptz;

-- An agent removed from its account (agent.removed): the row stays for history and reports.
alter table agents add column removed_at timestamptz;
