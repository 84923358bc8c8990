/**
 * Reading DER with node-forge's ASN.1 decoder, for the readers that must look inside a
 * structure before OpenSSL is given it (pbe.ts, pkcs12.ts, key-type.ts, key-decrypt.ts).
 */
import forge from 'node-forge';

export type Asn1 = forge.asn1.Asn1;
const { Type, Class } = forge.asn1;

/** forge.asn1.fromDer with its options object (@types/node-forge knows only the old boolean). */
type FromDer = (bytes: forge.util.ByteStringBuffer, options: { strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean }) => Asn1;
const fromDer = forge.asn1.fromDer as unknown as FromDer;

/**
 * DER bytes as forge's tree, or undefined when they are damaged, followed by more bytes
 * (OpenSSL ignores those; a reader here would not see them), or not the one DER encoding
 * of what they say (BER's other spellings could read differently to OpenSSL).
 */
export function parseDer(der: Uint8Array | string): Asn1 | undefined {
  const bytes = typeof der === 'string' ? der : Buffer.from(der).toString('binary');
  try {
    const tree = fromDer(forge.util.createBuffer(bytes), { strict: true, parseAllBytes: true, decodeBitStrings: false });
    return forge.asn1.toDer(tree).getBytes() === bytes ? tree : undefined;
  } catch {
    return undefined;
  }
}

export function kids(node: Asn1 | undefined): Asn1[] {
  return node && Array.isArray(node.value) ? node.value : [];
}

/** An INTEGER's value, unsigned (as forge reads counts); undefined for anything else. */
export function integer(node: Asn1 | undefined): bigint | undefined {
  if (node?.type !== Type.INTEGER || typeof node.value !== 'string') return undefined;
  return node.value === '' ? 0n : BigInt(`0x${forge.util.bytesToHex(node.value)}`);
}

/** The bit length of a non-negative INTEGER, without converting it; undefined for anything else. */
export function integerBits(node: Asn1 | undefined): number | undefined {
  if (node?.type !== Type.INTEGER || node.tagClass !== Class.UNIVERSAL || typeof node.value !== 'string' || node.value === '') return undefined;
  if (node.value.charCodeAt(0) & 0x80) return undefined; // negative
  const bytes = node.value.replace(/^\0+/, '');
  return bytes === '' ? 0 : (bytes.length - 1) * 8 + bytes.charCodeAt(0).toString(2).length;
}

export function oidOf(node: Asn1 | undefined): string | undefined {
  return node?.type === Type.OID && node.tagClass === Class.UNIVERSAL && typeof node.value === 'string' ? forge.asn1.derToOid(node.value) : undefined;
}

/** A primitive OCTET STRING's bytes (binary string); undefined for anything else. */
export function octetString(node: Asn1 | undefined): string | undefined {
  return node?.type === Type.OCTETSTRING && node.tagClass === Class.UNIVERSAL && typeof node.value === 'string' ? node.value : undefined;
}

/** The child tagged [n] (context-specific), if any. */
export function tagged(nodes: Asn1[], n: number): Asn1 | undefined {
  return nodes.find((x) => x.tagClass === Class.CONTEXT_SPECIFIC && x.type === n);
}
