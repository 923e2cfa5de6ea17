import t from 'tap'
import { loadConfig } from '../../engine/config.js'
import { archivedMatches, evictionIntervalMs } from '../../engine/eviction.js'
import type { ArchivedConversationRow } from '../../engine/archive/conversations.js'
import { conversationFromRow, hashFromRow } from '../../engine/archive/conversations.js'
import { conversationFromHash, type Conversation } from '../../engine/views.js'

const base = { REDIS_URL: 'redis://127.0.0.1:6379', ADMIN_TOKEN: 'x'.repeat(16) }

t.test('RETENTION_MS: 7 days by default, 0 turns eviction off, nonsense refused', async (t) => {
  const ok = (env: Record<string, string>) => {
    const r = loadConfig({ ...base, ...env })
    if (!r.ok) throw new Error(r.errors.join('; '))
    return r.config
  }
  t.equal(ok({}).retentionMs, 7 * 86_400_000)
  t.equal(ok({ RETENTION_MS: '0' }).retentionMs, 0)
  t.equal(ok({ RETENTION_MS: '500' }).retentionMs, 500)
  t.match(loadConfig({ ...base, RETENTION_MS: '-1' }), { ok: false, errors: [/RETENTION_MS/] })
  t.match(loadConfig({ ...base, RETENTION_MS: '7d' }), { ok: false, errors: [/RETENTION_MS/] })
  t.equal(evictionIntervalMs(7 * 86_400_000, 1000), 60_000, 'a minute for the default window')
  t.equal(evictionIntervalMs(500, 100), 100, 'never below the maintenance interval')
  t.equal(evictionIntervalMs(5000, 100), 500, 'a tenth of a short window')
  t.equal(evictionIntervalMs(0, 100), 60_000, 'census only')
})

const row: ArchivedConversationRow = {
  id: 'cv_aaaaaaaaaaaaaaaaaaaaaa', account_id: 'a_1', inbox_id: 'in_1', contact_id: 'ct_1', display_id: 3, status: 'resolved',
  priority: 'high', assignee_id: 'ag_1', waiting_since: null, first_reply_created_at: new Date(1500), last_activity_at: new Date(3000),
  agent_last_seen_at: new Date(2500), assignee_last_seen_at: null, contact_last_seen_at: new Date(2000), snoozed_until: null,
  custom_attributes: { plan: 'pro', tags: {} }, additional_attributes: {}, branch: null, region: 'EU', rating_score: 4,
  rating_comment: null, rated_at: new Date(3100), created_at: new Date(1000), msg_count: 7, unread: 2,
}

t.test('a row and the hash it rehydrates to describe the same conversation', async (t) => {
  const h = hashFromRow(row, { rehydratedAt: '9' })
  t.match(h, { msgCount: '7', unreadCount: '2', displayId: '3', lastActivityAt: '3000', rehydratedAt: '9', rating: '{"score":4,"comment":null,"ratedAt":3100}' })
  t.notOk('waitingSince' in h || 'branch' in h, 'null fields are left out, as the scripts leave them')
  t.same(conversationFromHash(h), conversationFromRow(row))
})

t.test('archivedMatches: every archived field, and every message', async (t) => {
  const live = (patch: Record<string, unknown> = {}): Conversation => ({ ...conversationFromRow(row), ...patch }) as Conversation
  t.ok(archivedMatches(live(), 7, row))
  t.notOk(archivedMatches(live(), 8, row), 'a message not archived yet')
  t.notOk(archivedMatches(live({ status: 'open' }), 7, row))
  t.notOk(archivedMatches(live({ lastActivityAt: 3001 }), 7, row))
  t.notOk(archivedMatches(live({ rating: null }), 7, row), 'a rating not archived yet')
  t.notOk(archivedMatches(live({ customAttributes: { plan: 'free', tags: {} } }), 7, row))
  t.ok(archivedMatches(live({ customAttributes: { tags: [], plan: 'pro' } }), 7, row), 'key order and [] vs {} do not matter')
  t.ok(archivedMatches(live({ contactLastSeenAt: 2900, agentLastSeenAt: 2990, unreadCount: 0 }), 7, row),
    'seen times (throttled archive writes) and the unread badge (not archived) may lag')
})
