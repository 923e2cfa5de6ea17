// From a partition-stream entry to the webhook event it means, in ONE function (`webhookEvent`):
// Chatwoot's event name, the inbox it belongs to, whether it is a private note, the lane its
// order is kept in (a conversation or a contact) and `data`, exactly the protocol event's data
// (the fan-out's `{message}`, `{conversation, changed}`, …) without the fields stream entries
// carry for the archiver (`conversation`/`waitedSince` on message.created, `previousStatus`…).
// Contacts have no protocol event: their data is `{contact}` (and `changed` on updates) in the
// protocol's Contact spelling. Entries that are no webhook event (account/agent/inbox changes,
// seen, rated — whose conversation.updated follows —, evictions) give null.
import type { StreamEvent } from '../../lua/codec.js';
import type { WebhookEventName } from '../../lua/webhooks.js';

export type WebhookEvent = {
  event: WebhookEventName;
  inboxId: string | null;
  private: boolean;
  lane: string;
  data: Record<string, unknown>;
};

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

const CONTACT_FIELDS = ['id', 'accountId', 'name', 'email', 'phone', 'identifier', 'verified', 'customAttributes', 'lastSeenAt'] as const;

function contactOf(d: Obj): Obj {
  const out: Obj = {};
  for (const f of CONTACT_FIELDS) out[f] = d[f] ?? null;
  return out;
}

export function webhookEvent(e: StreamEvent): WebhookEvent | null {
  const d = e.data;
  switch (e.type) {
    case 'message.created':
    case 'message.updated': {
      const m = obj(d['message']);
      const lane = str(m?.['conversationId']);
      if (m === null || lane === null) return null;
      return {
        event: e.type === 'message.created' ? 'message_created' : 'message_updated',
        inboxId: str(m['inboxId']), private: m['private'] === true, lane, data: { message: m },
      };
    }
    case 'conversation.created':
    case 'conversation.updated': {
      const c = obj(d['conversation']);
      const lane = str(c?.['id']);
      if (c === null || lane === null) return null;
      if (e.type === 'conversation.created') return { event: 'conversation_created', inboxId: str(c['inboxId']), private: false, lane, data: { conversation: c } };
      const changed = Array.isArray(d['changed']) ? d['changed'].filter((x): x is string => typeof x === 'string') : [];
      const event = changed.includes('status') ? 'conversation_status_changed' : changed.includes('rating') ? 'csat_submitted' : 'conversation_updated';
      return { event, inboxId: str(c['inboxId']), private: false, lane, data: { conversation: c, changed } };
    }
    case 'contact.created':
    case 'contact.updated': {
      const lane = str(d['id']);
      if (lane === null) return null;
      if (e.type === 'contact.created') return { event: 'contact_created', inboxId: str(d['inboxId']), private: false, lane, data: { contact: contactOf(d) } };
      const changed = Array.isArray(d['changed']) ? d['changed'].filter((x): x is string => typeof x === 'string') : [];
      return { event: 'contact_updated', inboxId: null, private: false, lane, data: { contact: contactOf(d), changed } };
    }
    default:
      return null;
  }
}
