import type { ConnData } from '../connection.js'
import type { ClientFrame, Role } from '../protocol.js'

/** One protocol operation: who may call it and what it does; the reply `data` is what it returns. */
export type Op<Deps> = {
  readonly roles: readonly Role[]
  readonly run: (deps: Deps, conn: ConnData, frame: ClientFrame) => Promise<unknown>
}
