/** This machine's own networks, to spot a VPN address pool that overlaps one (the seed's FAQ 4.2). */
import os from 'node:os';
import ipaddr from 'ipaddr.js';

export interface LocalNetwork {
  interface: string;
  cidr: string;
}

/** IPv4 networks of the machine's interfaces, loopback excluded. */
export function localNetworks(): LocalNetwork[] {
  const result: LocalNetwork[] = [];
  for (const [name, addresses] of Object.entries(os.networkInterfaces())) {
    for (const a of addresses ?? []) {
      if (a.family === 'IPv4' && !a.internal && a.cidr) result.push({ interface: name, cidr: a.cidr });
    }
  }
  return result;
}

/**
 * The local network that contains the VPN address, if any. The tunnel's own interface
 * (which carries exactly that address, once openvpn has set it) is not a conflict.
 */
export function findOverlap(virtualIp: string, networks: LocalNetwork[]): LocalNetwork | undefined {
  if (!ipaddr.IPv4.isValid(virtualIp)) return undefined;
  const ip = ipaddr.IPv4.parse(virtualIp);
  return networks.find((n) => {
    const [address, bits] = ipaddr.IPv4.parseCIDR(n.cidr);
    return address.toString() !== ip.toString() && ip.match(address, bits);
  });
}
