// Has the archive applied every edit and deletion Redis holds for a conversation? Eviction
// (engine/eviction.ts) asks before it drops the edits hash with the conversation: count(messages)
// cannot tell, an edit adds no row. Each edited message's archived row must carry the same
// updatedAt (the archiver writes message.updated in place, newest wins).
import type { Sql } from 'postgres'

/** `edits`: message id -> current message JSON (the conversation's edits hash). */
export async function editsArchived(sql: Sql, conversationId: string, edits: Record<string, string>): Promise<boolean> {
  const wanted = new Map<string, number>()
  for (const [id, raw] of Object.entries(edits)) {
    const m = JSON.parse(raw) as { updatedAt?: unknown }
    if (typeof m.updatedAt === 'number') wanted.set(id, m.updatedAt)
  }
  if (wanted.size === 0) return true
  const rows = await sql<{ stream_id: string; updated_at: Date | null }[]>`
    select stream_id, updated_at from messages
     where conversation_id = ${conversationId} and stream_id = any(${sql.array([...wanted.keys()])}::text[])`
  const archived = new Map(rows.map((r) => [r.stream_id, r.updated_at?.getTime() ?? null]))
  for (const [id, at] of wanted) if (archived.get(id) !== at) return false
  return true
}
