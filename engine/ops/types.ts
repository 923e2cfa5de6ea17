import type { ConnData } from '../connection.js'
import type { ClientFrame, Role } from '../protocol.js'

/** One protocol operation: who may call it and what it does; the reply `data` is what it returns. */
export type Op<Deps> = {
  readonly roles: readonly Role[]
  /** changes no state (typing is not stored): answered even while the node's fan-out catches up */
  readonly readOnly?: true
  readonly run: (deps: Deps, conn: ConnData, frame: ClientFrame) => Promise<unknown>
}
