// Where fan-out notices come from: a feed subscribes to the partition channels and says when a
// partition's subscription goes down and when it is confirmed again, so an engine node can catch
// up what was published in between (engine/fanout/sequencer.ts). One instance: classic SUBSCRIBE
// on one connection (this file). A Redis Cluster: the sharded feed (sharded.ts), same shape. Here
// under lua/ because the engine's fan-out and the webhook dispatcher's typing intake both listen.
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'

export type FeedHandlers = {
  /** a raw notice of one partition, in publish order */
  notice(partition: number, raw: string): void
  /** these partitions' subscriptions are gone: notices published from now on may be missed */
  down(partitions: readonly number[]): void
  /** these partitions' subscriptions are confirmed (again): everything published from now on arrives */
  up(partitions: readonly number[]): void
}

export type Feed = {
  /** subscribes; resolves once every partition is up (the first `up` has been called) */
  start(handlers: FeedHandlers): Promise<void>
  stop(): Promise<void>
}

/**
 * Classic pub/sub on one subscriber connection. ioredis re-subscribes by itself after a reconnect
 * but never says when that is confirmed, so auto-resubscribe is off and this feed does it: `down`
 * for every partition when the connection closes, `up` once SUBSCRIBE has answered again.
 */
export function createPubsubFeed(deps: { sub: Redis; channels: readonly string[]; log: Logger }): Feed {
  const { sub, channels, log } = deps
  const partitionOf = new Map(channels.map((c, p) => [c, p]))
  const all = channels.map((_, p) => p)
  let state: 'idle' | 'up' | 'down' | 'stopped' = 'idle'
  let handlers: FeedHandlers | null = null

  const onMessage = (channel: string, message: string) => {
    const p = partitionOf.get(channel)
    if (p !== undefined) handlers?.notice(p, message)
  }
  const onClose = () => {
    if (state !== 'up') return
    state = 'down'
    log.warn('fan-out subscriber connection lost: partitions down until re-subscribed')
    handlers?.down(all)
  }
  const resubscribe = async () => {
    if (state !== 'down') return
    try {
      await sub.subscribe(...channels)
    } catch (err) {
      log.warn({ err }, 're-subscribe failed; retrying on the next reconnect')
      return
    }
    if (state !== 'down') return
    state = 'up'
    handlers?.up(all)
  }
  const onReady = () => {
    resubscribe().catch((err: unknown) => log.warn({ err }, 're-subscribe failed'))
  }

  return {
    async start(h) {
      handlers = h
      sub.options.autoResubscribe = false
      sub.on('message', onMessage)
      sub.on('close', onClose)
      sub.on('ready', onReady)
      await sub.subscribe(...channels)
      state = 'up'
      h.up(all)
    },
    async stop() {
      state = 'stopped'
      sub.off('message', onMessage)
      sub.off('close', onClose)
      sub.off('ready', onReady)
    },
  }
}
