/** This machine's own networks, to spot a VPN address pool that overlaps one (the seed's FAQ 4.2). */
import os from 'node:os';
import ipaddr from 'ipaddr.js';

export interface LocalNetwork {
  interface: string;
  /** This machine's address on it. */
  address: string;
  /** The network, e.g. 192.168.1.0/24. */
  cidr: string;
}

function networkCidr(cidr: string): string {
  const [, bits] = ipaddr.IPv4.parseCIDR(cidr);
  return `${ipaddr.IPv4.networkAddressFromCIDR(cidr).toString()}/${bits}`;
}

/** IPv4 networks of the machine's interfaces, loopback excluded. */
export function localNetworks(): LocalNetwork[] {
  const result: LocalNetwork[] = [];
  for (const [name, addresses] of Object.entries(os.networkInterfaces())) {
    for (const a of addresses ?? []) {
      if (a.family === 'IPv4' && !a.internal && a.cidr) result.push({ interface: name, address: a.address, cidr: networkCidr(a.cidr) });
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
    const [network, bits] = ipaddr.IPv4.parseCIDR(n.cidr);
    return n.address !== ip.toString() && ip.match(network, bits);
  });
}
