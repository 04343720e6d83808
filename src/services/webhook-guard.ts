import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns'
import { BlockList, isIP } from 'node:net'

/**
 * Addresses a webhook must not reach (SSRF guard): loopback, private, link-local, carrier-grade
 * NAT, unspecified, multicast and reserved. IPv4-mapped IPv6 addresses are checked against the
 * IPv4 rules by BlockList itself.
 */
const BLOCKED = new BlockList()
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4]
] as const) BLOCKED.addSubnet(network, prefix, 'ipv4')
for (const [network, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8]] as const) {
  BLOCKED.addSubnet(network, prefix, 'ipv6')
}

export function isPrivateAddress (address: string): boolean {
  const family = isIP(address)
  if (family === 0) return true
  return BLOCKED.check(address, family === 4 ? 'ipv4' : 'ipv6')
}

/** The host of a URL as an address when it is a literal IP (brackets of IPv6 removed), else undefined. */
export function literalAddress (url: URL): string | undefined {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  return isIP(host) === 0 ? undefined : host
}

export class BlockedAddressError extends Error {
  constructor (host: string, address: string) {
    super(`${host} resolves to ${address}, a loopback, private or link-local address; webhooks may not reach it (PACKYARD_WEBHOOK_ALLOW_PRIVATE=true allows it)`)
    this.name = 'BlockedAddressError'
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void

/**
 * A `lookup` for http.request that refuses private results. The connection then goes to the
 * address checked here, so a name that resolves differently a moment later (DNS rebinding)
 * cannot slip through between a check and the connect.
 */
export function guardedLookup (hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err !== null) return callback(err, [])
    const blocked = addresses.find((a) => isPrivateAddress(a.address))
    if (blocked !== undefined) return callback(Object.assign(new BlockedAddressError(hostname, blocked.address), { code: 'EBLOCKED' }), [])
    if (options.all === true) return callback(null, addresses)
    const first = addresses[0]
    if (first === undefined) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), [])
    callback(null, first.address, first.family)
  })
}

/** Every address of the URL's host, refused when any of them is private. */
export async function checkPublicHost (url: URL): Promise<void> {
  const literal = literalAddress(url)
  if (literal !== undefined) {
    if (isPrivateAddress(literal)) throw new BlockedAddressError(url.hostname, literal)
    return
  }
  await new Promise<void>((resolve, reject) => {
    guardedLookup(url.hostname, { all: true }, (err) => { if (err === null) resolve(); else reject(err) })
  })
}
