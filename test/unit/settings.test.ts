import { describe, expect, it } from 'vitest';
import { diffSettings, validateSettings, type Settings } from '../../server/settings.js';
import { networksOverlap, parseIpv4Cidr, poolCapacity } from '../../server/net.js';

const base: Settings = {
  version: 1,
  name: 'SSL-server1',
  host: 'vpn.example.com',
  port: 1194,
  proto: 'tcp',
  pool: '198.18.100.0/24',
  subnets: ['198.18.2.0/24'],
  dns: [],
  cipher: 'AES-256-GCM',
  compress: false,
  twoFactor: true,
  maxClients: 10,
  keyType: 'ec',
  serverCommonName: 'ferry-gateway-test',
  profileRevision: 0,
};

describe('validateSettings (seed 3.4.2)', () => {
  it('accepts a valid server and canonicalises networks', () => {
    expect(validateSettings({ ...base, name: '服务端 1' }).name).toBe('服务端 1');
    expect(validateSettings(base).pool).toBe('198.18.100.0/24');
  });

  it.each([
    [{ port: 1023 }, /port 1023 is out of range: choose a port from 1024 to 49151/],
    [{ port: 49152 }, /port 49152 is out of range/],
    [{ subnets: [] }, /at least one --subnet is required/],
    [{ subnets: ['198.18.1.0/24', '198.18.2.0/24', '198.18.3.0/24', '198.18.4.0/24', '198.18.5.0/24', '198.18.6.0/24'] }, /6 local subnets given; at most 5/],
    [{ subnets: ['198.18.2.0/23', '198.18.3.0/24'] }, /local subnets 198.18.2.0\/23 and 198.18.3.0\/24 overlap/],
    [{ subnets: ['198.18.2.5/24'] }, /has host bits set; did you mean 198.18.2.0\/24/],
    [{ subnets: ['banana'] }, /local subnet "banana" is not a CIDR network/],
    [{ subnets: ['2001:db8::/64'] }, /must be an IPv4 network/],
    [{ pool: '198.18.2.0/25' }, /client address pool 198.18.2.0\/25 overlaps local subnet 198.18.2.0\/24/],
    [{ pool: '198.18.0.0/16', subnets: ['198.18.2.0/24'] }, /overlaps local subnet/],
    [{ pool: '198.18.100.0/30' }, /too small: OpenVPN needs at least a \/29/],
    [{ pool: '198.18.100.0/28', maxClients: 14 }, /holds 13 client addresses, fewer than --max-clients 14/],
    [{ maxClients: 0 }, /--max-clients 0 must be a whole number of at least 1/],
    [{ dns: ['not-an-ip'] }, /--dns "not-an-ip" is not an IPv4 address/],
    [{ cipher: 'AES-256-CBC' as Settings['cipher'] }, /--cipher AES-256-CBC is not supported; choose one of AES-256-GCM.*AEAD ciphers only/],
    [{ host: 'bad host!' }, /--host "bad host!" is not a hostname or IP address/],
    [{ name: '' }, /server name "" must be 1-64/],
    [{ name: 'x'.repeat(65) }, /must be 1-64/],
  ] as Array<[Partial<Settings>, RegExp]>)('refuses %o', (patch, message) => {
    expect(() => validateSettings({ ...base, ...patch })).toThrow(message);
  });

  it('accepts the limits themselves', () => {
    expect(() => validateSettings({ ...base, port: 1024 })).not.toThrow();
    expect(() => validateSettings({ ...base, port: 49151 })).not.toThrow();
    expect(() => validateSettings({ ...base, pool: '198.18.100.0/28', maxClients: 13 })).not.toThrow();
    expect(() => validateSettings({ ...base, subnets: ['198.18.1.0/24', '198.18.2.0/24', '198.18.3.0/24', '198.18.4.0/24', '198.18.5.0/24'] })).not.toThrow();
  });
});

describe('diffSettings', () => {
  it('names profile fields and frozen fields that changed', () => {
    const after = { ...base, proto: 'udp' as const, compress: true, pool: '198.18.101.0/24', maxClients: 20 };
    expect(diffSettings(base, after)).toEqual({ profileFields: ['proto', 'compress'], frozenFields: ['pool'] });
  });
});

describe('net helpers', () => {
  it('computes overlap and pool capacity', () => {
    expect(networksOverlap(parseIpv4Cidr('198.18.0.0/15', 'a'), parseIpv4Cidr('198.19.5.0/24', 'b'))).toBe(true);
    expect(networksOverlap(parseIpv4Cidr('198.18.1.0/24', 'a'), parseIpv4Cidr('198.18.2.0/24', 'b'))).toBe(false);
    expect(poolCapacity(parseIpv4Cidr('198.18.100.0/24', 'p'))).toBe(253);
  });
});
