/** A VPN address inside a local network (the seed's FAQ 4.2): traffic would go astray. */
import { failure, type Failure } from './failures.js';
import { findOverlap, type LocalNetwork } from './local-networks.js';

export function poolOverlapFailure(virtualIp: string, networks: LocalNetwork[]): Failure | undefined {
  const overlap = findOverlap(virtualIp, networks);
  return overlap ? failure('pool-overlap', 'pool-overlap', { address: virtualIp, network: overlap.cidr, interface: overlap.interface }) : undefined;
}
