// Where a webhook may send (SSRF rules), shared by the engine (refusal at `POST …/webhooks`) and
// the dispatcher (refusal at delivery). Refused: loopback, private, carrier-grade NAT, link-local
// (cloud metadata at 169.254.169.254 included), multicast, reserved and documentation ranges, the
// unspecified address, and their IPv4-mapped / NAT64 IPv6 spellings. The check is on the address
// the socket connects to: `guardedLookup` is passed to node's http(s) as `lookup`, so a hostname
// that resolves to a refused address fails before any connection is made. A hostname resolving to
// several addresses is refused when any of them is refused (no DNS games). `allowPrivate`
// (WEBHOOKS_ALLOW_PRIVATE=1) lifts the address rules, for tests and on-prem receivers.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { BlockList, isIP } from 'node:net'

const blocked = new BlockList()
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, bits, 'ipv4')
for (const [net, bits] of [
  ['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8], ['2001:db8::', 32], ['100::', 64],
] as const) blocked.addSubnet(net, bits, 'ipv6')

/** The IPv4 address an IPv6 one carries (::ffff:a.b.c.d, 64:ff9b::/96, ::a.b.c.d), or null. */
function embeddedV4(address: string): string | null {
  const lower = address.toLowerCase()
  const dotted = /^(?:::ffff:|64:ff9b::|::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower)
  if (dotted?.[1]) return dotted[1]
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower)
  if (hex?.[1] && hex[2]) {
    const hi = parseInt(hex[1], 16)
    const lo = parseInt(hex[2], 16)
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  }
  return null
}

/** Why `address` (an IP literal) may not be connected to, or null when it may. */
export function refusedAddress(address: string): string | null {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address
  const family = isIP(bare)
  if (family === 0) return `${address} is not an IP address`
  if (family === 4) return blocked.check(bare, 'ipv4') ? `${bare} is a loopback, private, link-local, multicast or reserved address` : null
  const v4 = embeddedV4(bare)
  if (v4 !== null && blocked.check(v4, 'ipv4')) return `${bare} maps to ${v4}, a loopback, private, link-local, multicast or reserved address`
  return blocked.check(bare, 'ipv6') ? `${bare} is a loopback, private, link-local, multicast or reserved address` : null
}

/** Raised before any connection when the destination is refused. */
export class RefusedDestinationError extends Error {
  override name = 'RefusedDestinationError'
  readonly code = 'ERR_WEBHOOK_DESTINATION_REFUSED'
}

/** The URL parsed when it is one a webhook may have (http or https, no credentials); else an error text. */
export function parseWebhookUrl(raw: string): { url: URL } | { error: string } {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return { error: 'is not a valid URL' }
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { error: 'must be an http:// or https:// URL' }
  if (url.username !== '' || url.password !== '') return { error: 'must not carry credentials (user:password@)' }
  if (url.hostname === '') return { error: 'has no host' }
  return { url }
}

/** The host of a URL as it is connected to: IPv6 literals without brackets. */
export function urlHost(url: URL): string {
  const h = url.hostname
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void

/** A `lookup` for net/http/https that refuses hostnames resolving to a refused address. */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: { family?: number | string | undefined; all?: boolean | undefined } | number, callback: LookupCallback): void => {
    const opts = typeof options === 'number' ? { family: options } : options
    const family = opts.family === 'IPv4' ? 4 : opts.family === 'IPv6' ? 6 : typeof opts.family === 'number' ? opts.family : 0
    dnsLookup(hostname, { all: true, family }, (err, addresses) => {
      if (err) return callback(err, '')
      if (!allowPrivate) {
        for (const a of addresses) {
          const why = refusedAddress(a.address)
          if (why !== null) return callback(new RefusedDestinationError(`${hostname} resolves to ${why}`) as NodeJS.ErrnoException, '')
        }
      }
      if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '')
      if (opts.all === true) return callback(null, addresses)
      const first = addresses[0] as LookupAddress
      callback(null, first.address, first.family)
    })
  }
}

/**
 * Why a webhook may not be sent to `url` (syntax, or a refused address, resolving a hostname),
 * or null when it may. For the check at creation; delivery checks again on connect.
 */
export async function refusedDestination(url: URL, allowPrivate: boolean): Promise<string | null> {
  if (allowPrivate) return null
  const host = urlHost(url)
  if (isIP(host) !== 0) return refusedAddress(host)
  const lookup = guardedLookup(false)
  return new Promise((resolve) => {
    lookup(host, { all: true }, (err) => {
      if (err === null) resolve(null)
      else if (err instanceof RefusedDestinationError) resolve(err.message)
      else resolve(null) // does not resolve now: delivery will retry and check again
    })
  })
}
