import ipaddr from 'ipaddr.js';

/** An IPv4 network in canonical form (host bits cleared). */
export interface Ipv4Network {
  readonly address: string;
  readonly prefix: number;
  readonly cidr: string;
  readonly netmask: string;
}

/** Parses `a.b.c.d/n`; refuses host bits set, so `198.18.1.5/24` is not silently taken as `/24` of .0. */
export function parseIpv4Cidr(text: string, what: string): Ipv4Network {
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    parsed = ipaddr.parseCIDR(text);
  } catch {
    throw new Error(`${what} "${text}" is not a CIDR network such as 198.18.2.0/24`);
  }
  const [addr, prefix] = parsed;
  if (addr.kind() !== 'ipv4' || !ipaddr.IPv4.isValidFourPartDecimal(text.split('/')[0] ?? '')) {
    throw new Error(`${what} "${text}" must be an IPv4 network such as 198.18.2.0/24`);
  }
  const network = ipaddr.IPv4.networkAddressFromCIDR(text).toString();
  if (network !== addr.toString()) {
    throw new Error(`${what} "${text}" has host bits set; did you mean ${network}/${prefix}?`);
  }
  return {
    address: network,
    prefix,
    cidr: `${network}/${prefix}`,
    netmask: ipaddr.IPv4.subnetMaskFromPrefixLength(prefix).toString(),
  };
}

export function isIpv4Address(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text);
}

export function networksOverlap(a: Ipv4Network, b: Ipv4Network): boolean {
  const shorter = Math.min(a.prefix, b.prefix);
  const aa = ipaddr.IPv4.parse(a.address);
  const bb = ipaddr.IPv4.parse(b.address);
  return aa.match(bb, shorter);
}

/**
 * Client addresses an OpenVPN `server` pool in `topology subnet` hands out:
 * everything but the network address, the server's own (.1) and the broadcast address.
 */
export function poolCapacity(pool: Ipv4Network): number {
  return 2 ** (32 - pool.prefix) - 3;
}

/** A hostname (RFC 1123) or an IPv4/IPv6 literal that a client can dial. */
export function isDialableHost(host: string): boolean {
  if (ipaddr.isValid(host)) return true;
  if (host.length > 253) return false;
  return host
    .split('.')
    .every((label) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label));
}
