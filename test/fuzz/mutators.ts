/**
 * Ways to damage a valid input, as a careless tool or an attacker would: byte flips,
 * truncation, duplicated lines and blocks, huge repeats of the markers the readers look
 * for, nesting, random PEM labels, splices from other files; zips rebuilt around mutated
 * entries (or nested, or with hostile names), PKCS#12 iteration counts rewritten, key-type
 * OIDs of certificates and keys made unknown.
 */
import { strToU8, unzipSync, zipSync, type Zippable } from 'fflate';
import type { Random } from './random.js';

/** Inputs are capped just above the importer's 1 MiB limit: past it, the size refusal is all there is to see. */
const MAX_BYTES = 1024 * 1024 + 64;

/** What the readers react to: PEM and .ovpn markers, quoting, line ends, encodings. */
const TOKENS = [
  '-----BEGIN ', '-----END ', '-----', '-----BEGIN CERTIFICATE-----', '-----END CERTIFICATE-----', '-----BEGIN PRIVATE KEY-----',
  '-----END PRIVATE KEY-----', '-----BEGIN ENCRYPTED PRIVATE KEY-----', 'Proc-Type: 4,ENCRYPTED', '-----BEGIN OpenVPN Static key V1-----',
  '<ca>', '</ca>', '<cert>', '</cert>', '<key>', '</key>', '<connection>', '</connection>', '<tls-auth>', '</tls-auth>', '<pkcs12>', '</pkcs12>',
  '<', '>', '"', "'", '\\', '\\"', '#', ';', ' ', '\t', '\r', '\n', '\r\n', '\0', '\uFEFF', '\u00e9', '\ud83d\ude00', '\x7f',
  'remote ', 'remote vpn.example.com 99999 tcp', 'proto tcp-server', 'port 0', 'dev tun0', 'up /bin/sh', 'script-security 2', 'ca ../ca.crt',
  'ca /etc/passwd', 'ca [inline]', 'auth-user-pass creds.txt', 'static-challenge "x" 2', 'setenv opt up x', 'tls-auth ta.key 2', 'compress lz4-v2',
  'keepalive 1 999999999', 'pull-filter ignore route\n', 'redirect-gateway def1\n', 'remote-cert-eku serverAuth\n', 'setenv opt verb 3\n', 'setenv opt ', 'cipher none', 'management 127.0.0.1 7505', '--remote', 'connection', 'AAAA', '====', 'MIIB',
];

export interface Mutated {
  data: Buffer;
  /** What was done, for the report. */
  how: string[];
}

type Mutator = (data: Buffer, rnd: Random, donors: Buffer[]) => Buffer;

function lines(data: Buffer): string[] {
  return data.toString('latin1').split('\n');
}

/** The lines joined again, cut at the size cap (repeats can ask for far more than a string holds). */
function joinLines(ls: string[]): Buffer {
  let size = 0;
  const kept: string[] = [];
  for (const l of ls) {
    if (size > MAX_BYTES) break;
    kept.push(l);
    size += l.length + 1;
  }
  return Buffer.from(kept.join('\n'), 'latin1').subarray(0, MAX_BYTES);
}

function insertAt(data: Buffer, at: number, piece: Buffer): Buffer {
  return Buffer.concat([data.subarray(0, at), piece, data.subarray(at)]);
}

/** A repeat of `unit` up to a size drawn from tiny to the whole file limit. */
function repeat(unit: string, rnd: Random): Buffer {
  const target = rnd.pick([64, 4096, 65536, 262144, MAX_BYTES]);
  return Buffer.from(unit.repeat(Math.max(1, Math.floor(target / Math.max(1, unit.length)))), 'latin1');
}

const TEXT_MUTATORS: Record<string, Mutator> = {
  flip(data, rnd) {
    const out = Buffer.from(data);
    for (let n = rnd.range(1, 8); n > 0 && out.length > 0; n--) out[rnd.int(out.length)] = rnd.int(256);
    return out;
  },
  truncate(data, rnd) {
    return data.subarray(0, rnd.int(data.length + 1));
  },
  duplicateLines(data, rnd) {
    const ls = lines(data);
    const from = rnd.int(ls.length);
    const to = Math.min(ls.length, from + rnd.range(1, 40));
    const copies = rnd.pick([1, 2, 10, 1000]);
    return joinLines([...ls.slice(0, to), ...Array.from({ length: copies }, () => ls.slice(from, to)).flat(), ...ls.slice(to)]);
  },
  duplicateBlock(data, rnd) {
    // A PEM block or an inline block, found line by line (the input may be a hostile megabyte).
    const ls = lines(data);
    const starts = ls.flatMap((l, i) => (l.startsWith('-----BEGIN ') || /^<[a-z-]+>/.test(l) ? [i] : []));
    if (starts.length === 0) return data;
    const from = rnd.pick(starts);
    let to = from + 1;
    while (to < ls.length && to < from + 200 && !ls[to]!.startsWith('-----END ') && !ls[to]!.startsWith('</')) to++;
    const block = ls.slice(from, to + 1);
    const copies = Array.from({ length: rnd.pick([1, 2, 50]) }, () => block).flat();
    const at = rnd.int(ls.length + 1);
    return joinLines([...ls.slice(0, at), ...copies, ...ls.slice(at)]);
  },
  hugeRepeat(data, rnd) {
    const unit = rnd.chance(0.7) ? rnd.pick(TOKENS) + (rnd.chance(0.5) ? '\n' : '') : data.subarray(rnd.int(data.length), rnd.int(data.length) + 64).toString('latin1');
    return insertAt(data, rnd.int(data.length + 1), repeat(unit || '-', rnd));
  },
  token(data, rnd) {
    let out = data;
    for (let n = rnd.range(1, 4); n > 0; n--) out = insertAt(out, rnd.int(out.length + 1), Buffer.from(rnd.pick(TOKENS), 'utf8'));
    return out;
  },
  nest(data, rnd) {
    const ls = lines(data);
    const from = rnd.int(ls.length);
    const to = Math.min(ls.length, from + rnd.range(1, 60));
    const tag = rnd.pick(['connection', 'ca', 'cert', 'key', 'tls-auth', 'dh', 'x']);
    const open = rnd.chance(0.5) ? `<${tag}>` : `-----BEGIN ${tag.toUpperCase()}-----`;
    const close = open.startsWith('<') ? `</${tag}>` : `-----END ${tag.toUpperCase()}-----`;
    const depth = rnd.pick([1, 2, 100]);
    const opens = Array.from({ length: depth }, () => open);
    const closes = Array.from({ length: rnd.chance(0.8) ? depth : 0 }, () => close);
    return joinLines([...ls.slice(0, from), ...opens, ...ls.slice(from, to), ...closes, ...ls.slice(to)]);
  },
  label(data, rnd) {
    if (data.length > 256 * 1024) return data;
    const chars = 'ABCXYZ -_0123456789\t';
    const random = Array.from({ length: rnd.range(0, 80) }, () => chars[rnd.int(chars.length)]).join('');
    let done = false;
    const s = data.toString('latin1').replace(/-----(BEGIN|END) ([^\n]*?)-----/g, (m, kind: string) => {
      if (done || rnd.chance(0.5)) return m;
      done = true;
      return `-----${kind} ${random}-----`;
    });
    return Buffer.from(s, 'latin1');
  },
  splice(data, rnd, donors) {
    const donor = rnd.pick(donors);
    const from = rnd.int(donor.length + 1);
    return insertAt(data, rnd.int(data.length + 1), donor.subarray(from, from + rnd.range(1, 2048)));
  },
};

/** The key-type OIDs of certificates and keys (id-ecPublicKey, rsaEncryption), as DER TLVs. */
const KEY_OIDS = [Buffer.from('06072a8648ce3d0201', 'hex'), Buffer.from('06092a864886f70d010101', 'hex')];

/** Rewrites DER INTEGERs (iteration counts, versions), lengths and key-type OIDs in a certificate, key or PKCS#12 file. */
const DER_MUTATORS: Record<string, Mutator> = {
  integer(data, rnd) {
    // 02 02 08 00 is an INTEGER 2048: forge's and OpenSSL's default count.
    const out = Buffer.from(data);
    const spots = [...out.keys()].filter((i) => out[i] === 0x02 && out[i + 1]! >= 1 && out[i + 1]! <= 4 && i + 2 + out[i + 1]! <= out.length);
    if (spots.length === 0) return out;
    const at = rnd.pick(spots);
    for (let i = 0; i < out[at + 1]!; i++) out[at + 2 + i] = rnd.chance(0.5) ? 0xff : rnd.int(256);
    return out;
  },
  length(data, rnd) {
    const out = Buffer.from(data);
    if (out.length > 1) out[rnd.int(out.length - 1) + 1] = rnd.pick([0x80, 0x81, 0x82, 0x84, 0xff, 0x00]);
    return out;
  },
  /** A key type nobody knows (1.2.3.4.…, same length, so the DER stays whole): certificates parse, their keys do not. */
  keyOid(data, rnd) {
    const out = Buffer.from(data);
    const spots = KEY_OIDS.flatMap((tlv) => {
      const found: number[] = [];
      for (let at = out.indexOf(tlv); at >= 0; at = out.indexOf(tlv, at + 1)) found.push(at);
      return found.map((at) => ({ at, length: tlv.length - 2 }));
    });
    if (spots.length === 0) return out;
    const { at, length } = rnd.pick(spots);
    for (let i = 0; i < length; i++) out[at + 2 + i] = i === 0 ? 0x2a : 2 + i;
    return out;
  },
};

/** A PEM block's DER rewritten (its INTEGERs, lengths, a byte) and re-encoded: damage behind valid base64. */
function mutatePemDer(data: Buffer, rnd: Random, donors: Buffer[], how: string[]): Buffer {
  const ls = lines(data);
  const begins = ls.flatMap((l, i) => (l.startsWith('-----BEGIN ') ? [i] : []));
  if (begins.length === 0) return data;
  const from = rnd.pick(begins);
  let to = from + 1;
  while (to < ls.length && !ls[to]!.startsWith('-----END ')) to++;
  const body = ls.slice(from + 1, to).filter((l) => !l.includes(':'));
  const name = rnd.pick(Object.keys(DER_MUTATORS));
  how.push(`der:${name}`);
  const der = DER_MUTATORS[name]!(Buffer.from(body.join(''), 'base64'), rnd, donors);
  const b64 = der.toString('base64').match(/.{1,64}/g) ?? [];
  return joinLines([...ls.slice(0, from + 1), ...b64, ...ls.slice(to)]);
}

/** A zip rebuilt from its entries after mutating one of them, or nested, or with hostile names. */
function mutateZip(data: Buffer, rnd: Random, donors: Buffer[], how: string[]): Buffer {
  let entries: Zippable;
  try {
    entries = unzipSync(data) as Zippable;
  } catch {
    return mutateBytes(data, rnd, donors, how);
  }
  const names = Object.keys(entries);
  const choice = rnd.int(10);
  if (choice < 6 && names.length > 0) {
    const name = rnd.pick(names);
    const inner = mutateBytes(Buffer.from(entries[name] as Uint8Array), rnd, donors, how);
    entries = { ...entries, [name]: inner };
  } else if (choice < 7) {
    how.push('zip:nest');
    entries = { 'inner.zip': zipSync(entries) };
  } else if (choice < 9) {
    const name = rnd.pick(['../evil.crt', '/abs.crt', 'C:\\x.crt', 'a/../../b', '__MACOSX/._ca.crt', 'dir/', 'x\u0001y', 'ca.crt ', 'CA.CRT']);
    how.push(`zip:name ${JSON.stringify(name)}`);
    entries = { ...entries, [name]: strToU8(names.length ? 'x' : '') };
  } else {
    how.push('zip:many');
    entries = Object.fromEntries(Array.from({ length: rnd.pick([15, 16, 17, 40]) }, (_, i) => [`f${i}.crt`, strToU8(`${i}`)]));
  }
  return Buffer.from(zipSync(entries, { level: rnd.pick([0, 6, 9] as const) }));
}

function mutateBytes(data: Buffer, rnd: Random, donors: Buffer[], how: string[]): Buffer {
  const pool = { ...TEXT_MUTATORS, ...(rnd.chance(0.3) ? DER_MUTATORS : {}) };
  const names = Object.keys(pool);
  let out = data;
  for (let n = rnd.pick([1, 1, 2, 3]); n > 0; n--) {
    const name = rnd.pick(names);
    how.push(name);
    out = pool[name]!(out, rnd, donors);
    if (out.length > MAX_BYTES) out = out.subarray(0, MAX_BYTES);
  }
  return out;
}

/** One mutation of `data` (a file of kind `kind`); `donors` are the other corpus files. */
export function mutate(data: Buffer, kind: 'text' | 'zip' | 'p12', rnd: Random, donors: Buffer[]): Mutated {
  const how: string[] = [];
  let out: Buffer;
  if (kind === 'zip' && rnd.chance(0.8)) out = mutateZip(data, rnd, donors, how);
  else if (kind === 'text' && rnd.chance(0.2)) out = mutatePemDer(data, rnd, donors, how);
  else if (kind === 'p12' && rnd.chance(0.6)) {
    const name = rnd.pick(Object.keys(DER_MUTATORS));
    how.push(name);
    out = DER_MUTATORS[name]!(data, rnd, donors);
  } else out = mutateBytes(data, rnd, donors, how);
  return { data: out, how };
}
