// The peer: the chat hot path as a Node team would build it on socket.io. Run two of these on one
// Redis; @socket.io/redis-streams-adapter (default options) carries broadcasts between them.
//   widget  connects with auth { role: 'widget', inboxId }, `conversation.open` → its conversation,
//           and joins the conversation's room
//   agent   connects with auth { role: 'agent', inboxId } and joins the inbox's room
//   message.send { conversationId, content, echoId } → flood check (INCR + EXPIRE per conversation,
//           one MULTI), the message with Parley's fields, one emit to the conversation's room and the
//           inbox's room (its widget and its agents, each socket once), and an ack.
// No authentication beyond trusting `auth`, and no persistence beyond the adapter's stream: both
// favour the peer. Env: REDIS_URL, PORT, HOST, FLOOD_LIMIT (per conversation per minute).
import { createServer } from 'node:http'
import { randomBytes } from 'node:crypto'
import { createAdapter } from '@socket.io/redis-streams-adapter'
import { Redis } from 'ioredis'
import { Server } from 'socket.io'

const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379'
const port = Number(process.env['PORT'] ?? 3000)
const host = process.env['HOST'] ?? '127.0.0.1'
const floodLimit = Number(process.env['FLOOD_LIMIT'] ?? 1_000_000)
const accountId = 'a_bench'

const adapterRedis = new Redis(redisUrl)
const redis = new Redis(redisUrl)

const http = createServer((req, res) => {
  if (req.url === '/readyz') {
    redis.ping().then(() => res.writeHead(200).end('{"ready":true}'), () => res.writeHead(503).end('{"ready":false}'))
    return
  }
  res.writeHead(404).end()
})
const io = new Server(http, { adapter: createAdapter(adapterRedis), transports: ['websocket'], serveClient: false })

let seq = 0
const nodeTag = randomBytes(3).toString('hex')

type Ack = (reply: unknown) => void

io.on('connection', (socket) => {
  const auth = socket.handshake.auth as { role?: string; inboxId?: string }
  const inboxId = typeof auth.inboxId === 'string' ? auth.inboxId : ''
  if (inboxId === '' || (auth.role !== 'widget' && auth.role !== 'agent')) {
    socket.disconnect(true)
    return
  }
  if (auth.role === 'agent') {
    void socket.join(`inbox:${inboxId}`)
    return
  }
  const contactId = `ct_${randomBytes(16).toString('base64url')}`
  let conversationId: string | null = null

  socket.on('conversation.open', (_params: unknown, ack: Ack) => {
    if (typeof ack !== 'function') return
    if (conversationId === null) {
      conversationId = `cv_${randomBytes(16).toString('base64url')}`
      void socket.join(`conv:${conversationId}`)
    }
    const now = Date.now()
    ack({ ok: true, data: { conversation: { id: conversationId, accountId, inboxId, contactId, status: 'open', createdAt: now, lastActivityAt: now } } })
  })

  socket.on('message.send', (params: { conversationId?: unknown; content?: unknown; echoId?: unknown }, ack: Ack) => {
    if (typeof ack !== 'function') return
    if (params === null || typeof params !== 'object' || params.conversationId !== conversationId || conversationId === null) {
      ack({ ok: false, error: { code: 'forbidden', message: 'not your conversation' } })
      return
    }
    if (typeof params.content !== 'string' || params.content.trim() === '') {
      ack({ ok: false, error: { code: 'bad_request', message: '`content` must be a non-empty string' } })
      return
    }
    const conv = conversationId
    const content = params.content
    const echoId = typeof params.echoId === 'string' ? params.echoId : null
    const floodKey = `flood:${conv}`
    redis.multi().incr(floodKey).expire(floodKey, 60, 'NX').exec().then((res) => {
      const count = Number(res?.[0]?.[1] ?? 0)
      if (count > floodLimit) {
        ack({ ok: false, error: { code: 'flood_limited', message: 'slow down', retryAfterMs: 1000 } })
        return
      }
      const now = Date.now()
      const message = {
        id: `${now}-${nodeTag}${seq++}`, conversationId: conv, accountId, inboxId, type: 'incoming', content,
        contentType: 'text', contentAttributes: {}, private: false, echoId, sourceId: null, status: 'sent',
        sender: { type: 'contact', id: contactId }, createdAt: now,
      }
      io.to(`conv:${conv}`).to(`inbox:${inboxId}`).emit('message.created', { message })
      ack({ ok: true, data: { message } })
    }, () => ack({ ok: false, error: { code: 'unavailable', message: 'redis unavailable' } }))
  })
})

http.listen(port, host)

const stop = () => {
  io.close()
  void Promise.allSettled([redis.quit(), adapterRedis.quit()]).then(() => process.exit(0))
  setTimeout(() => process.exit(0), 3000).unref()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
