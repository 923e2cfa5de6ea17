import type { Op } from './types.js'

export const ping: Op<unknown> = {
  roles: ['agent', 'contact'],
  readOnly: true,
  run: async () => ({ serverTime: Date.now() }),
}
