// The widget's state, shared by app.ts (what is shown), events.ts (the client's events) and
// sender.ts (what the visitor sends): one object, so a restart swaps the client for all three.
import type { WidgetClient } from '../../client/browser.js'
import type { Pending } from './view.js'

/** what window.parley hears */
export type WidgetEvent = 'ready' | 'message' | 'open' | 'close' | 'error'

export type WidgetState = {
  client: WidgetClient
  /** the conversation shown (null: none yet; the first message opens one) */
  convId: string | null
  isOpen: boolean
  /** the first sync is done */
  ready: boolean
  unread: number
  /** messages typed before their conversation exists, shown as sending */
  pending: (Pending & { echoId: string })[]
  /** the client closed for good (bad website token): nothing is sent */
  dead: boolean
}
