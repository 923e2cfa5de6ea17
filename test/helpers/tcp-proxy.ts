// A TCP proxy for tests: clients connect to one port, the proxy forwards to whichever engine port
// `target` names (null refuses: the connection is closed at once), and counts connections. Moving
// the target moves new connections; a dead upstream closes its client side, as a dead node would.
import { createConnection, createServer, type Socket } from 'node:net'

type T = { teardown(fn: () => unknown): void }

export type Proxy = {
  port: number; url: string; target: number | null; connections: number
  /** cuts every proxied connection now (both sides see it closed) */
  drop(): void
  /** stops forwarding on every current connection without closing it: a dead link neither side sees */
  freeze(): void
  stop(): Promise<void>
}

export async function startProxy(t: T, target: number | null): Promise<Proxy> {
  const sockets = new Set<Socket>()
  const pairs = new Set<[Socket, Socket]>()
  const server = createServer((client) => {
    proxy.connections++
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    client.on('error', () => client.destroy())
    if (proxy.target === null) {
      client.destroy()
      return
    }
    const upstream = createConnection({ host: '127.0.0.1', port: proxy.target })
    sockets.add(upstream)
    upstream.on('close', () => {
      sockets.delete(upstream)
      client.destroy()
    })
    upstream.on('error', () => upstream.destroy())
    const pair: [Socket, Socket] = [client, upstream]
    pairs.add(pair)
    client.on('close', () => {
      pairs.delete(pair)
      upstream.destroy()
    })
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const stop = () => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy()
    server.close(() => resolve())
  })
  const drop = () => {
    for (const s of sockets) s.destroy()
  }
  const freeze = () => {
    for (const [c, u] of pairs) {
      c.unpipe(u)
      u.unpipe(c)
      c.pause()
      u.pause()
    }
    pairs.clear()
  }
  const proxy: Proxy = { port, url: `http://127.0.0.1:${port}`, target, connections: 0, drop, freeze, stop }
  t.teardown(stop)
  return proxy
}
