// A webhook's deliveries as the admin API shows them, read from the dispatcher's PostgreSQL queue
// (archiver/migrations/00005_webhooks.sql), and replay: a delivery of any status is queued again
// with its retry age restarted, keeping its id (the X-Parley-Delivery id).
import type { Sql } from 'postgres'

export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'dead'
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['pending', 'delivered', 'failed', 'dead']

export type DeliveryView = {
  id: string; event: string; status: DeliveryStatus; attempts: number; lastStatusCode: number | null; lastError: string | null
  nextAttemptAt: number | null; createdAt: number; deliveredAt: number | null; lastAttemptAt: number | null
}

type Row = {
  id: string; event: string; status: DeliveryStatus; attempts: number; last_status_code: number | null; last_error: string | null
  next_attempt_at: Date | null; created_at: Date; delivered_at: Date | null; last_attempt_at: Date | null
}

const ms = (d: Date | null): number | null => (d === null ? null : d.getTime())

function view(r: Row): DeliveryView {
  return {
    id: r.id, event: r.event, status: r.status, attempts: r.attempts, lastStatusCode: r.last_status_code, lastError: r.last_error,
    nextAttemptAt: ms(r.next_attempt_at), createdAt: r.created_at.getTime(), deliveredAt: ms(r.delivered_at), lastAttemptAt: ms(r.last_attempt_at),
  }
}

/** Newest first; `before` = a createdAt (ms) to page back from. */
export async function listDeliveries(
  sql: Sql, webhookId: string, q: { status?: DeliveryStatus | undefined; limit: number; before?: number | undefined },
): Promise<DeliveryView[]> {
  const rows = await sql<Row[]>`
    select id, event, status, attempts, last_status_code, last_error, next_attempt_at, created_at, delivered_at, last_attempt_at
    from webhook_deliveries
    where webhook_id = ${webhookId}
      ${q.status === undefined ? sql`` : sql`and status = ${q.status}`}
      ${q.before === undefined ? sql`` : sql`and created_at < ${new Date(q.before)}`}
    order by created_at desc, id desc
    limit ${q.limit}`
  return rows.map(view)
}

/** Queues the delivery again now; null when it is not one of this webhook's. */
export async function replayDelivery(sql: Sql, webhookId: string, deliveryId: string): Promise<DeliveryView | null> {
  const [row] = await sql<Row[]>`
    update webhook_deliveries
    set status = 'pending', next_attempt_at = now(), window_start = now(), lease_until = null, lease_owner = null
    where id = ${deliveryId} and webhook_id = ${webhookId}
    returning id, event, status, attempts, last_status_code, last_error, next_attempt_at, created_at, delivered_at, last_attempt_at`
  return row === undefined ? null : view(row)
}
