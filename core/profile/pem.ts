/**
 * PEM text as administrators send it: certificates, private keys and OpenVPN static keys,
 * alone or several to a file, often with openssl's text dump or "Bag Attributes" around
 * them (ignored). Also home of ImportError, so every reader below import.ts can throw it
 * without an import cycle.
 */
import { InputError } from '../util/errors.js';
import { replaceUnprintable } from '../util/unprintable.js';

/**
 * One import failure: one line naming the file and what to do. `file` is the path the user
 * gave. Whatever a hostile file slipped into the message is made printable here, so it stays
 * one line and cannot drive the terminal.
 */
export class ImportError extends InputError {
  constructor(
    message: string,
    readonly file?: string,
  ) {
    super(replaceUnprintable(message));
    this.name = 'ImportError';
  }
}

/** Text from a file (a name, a label, a path) fit to quote in a message: printable, at most `max` characters. */
export function printable(text: string, max = 80): string {
  const head = replaceUnprintable(text.slice(0, max + 1));
  return head.length > max ? `${head.slice(0, max - 1)}…` : head;
}

export type PemKind = 'certificate' | 'private-key' | 'static-key' | 'tls-crypt-v2' | 'other';

export interface PemBlock {
  label: string;
  kind: PemKind;
  /** The block alone, BEGIN to END, LF line ends: what gets stored. */
  text: string;
  /** 1-based line of the BEGIN line in its file (or inline block). */
  line: number;
}

export const KEY_LABELS: ReadonlySet<string> = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'ENCRYPTED PRIVATE KEY']);
/** openssl ecparam writes this before an EC key; it carries nothing the key lacks. */
const IGNORED_LABELS = new Set(['EC PARAMETERS']);

/** What a PEM block we cannot use is, in words a person recognises. */
const OTHER_LABELS: Record<string, string> = {
  'CERTIFICATE REQUEST': 'a certificate request (CSR), not a certificate',
  'NEW CERTIFICATE REQUEST': 'a certificate request (CSR), not a certificate',
  'X509 CRL': 'a certificate revocation list',
  'PUBLIC KEY': 'a public key, not the private key',
  'DH PARAMETERS': 'Diffie-Hellman parameters (a server file)',
  'OPENSSH PRIVATE KEY': 'an SSH key, not a VPN key',
  'TRUSTED CERTIFICATE': 'an OpenSSL "trusted certificate"; convert it to a plain certificate',
};

export function kindOf(label: string): PemKind {
  if (label === 'CERTIFICATE' || label === 'X509 CERTIFICATE') return 'certificate';
  if (KEY_LABELS.has(label)) return 'private-key';
  if (label === 'OpenVPN Static key V1') return 'static-key';
  if (label === 'OpenVPN tls-crypt-v2 client key') return 'tls-crypt-v2';
  return 'other';
}

export function describeOther(label: string): string {
  return OTHER_LABELS[label] ?? `a "${printable(label)}" block`;
}

/** Does the text hold at least one BEGIN line? (Cheap test used to recognise files.) */
export function hasPemBlock(text: string): boolean {
  return pemLines(text).some((l) => beginLabel(l) !== undefined);
}

/**
 * The text's lines, LF or CRLF, for a scanner that looks at each line a bounded number of
 * times. (No regular expression runs across lines: a crafted file once made one backtrack
 * over the whole megabyte for every "-----END " in it.)
 */
function pemLines(text: string): string[] {
  const lines: string[] = [];
  for (const line of text.split(/\r\n?|\n/)) lines.push(...unglue(line));
  return lines;
}

/**
 * `cat a.crt b.crt` of files without a final newline glues "-----END A-----" and
 * "-----BEGIN B-----" on one line: split it again. Labels hold no "-----", so the END
 * marker closes at the first "-----" after it.
 */
function unglue(line: string): string[] {
  const t = line.trim();
  if (!t.startsWith('-----END ')) return [line];
  const close = t.indexOf('-----', '-----END '.length);
  if (close < 0) return [line];
  const rest = t.slice(close + 5).trimStart();
  return rest.startsWith('-----BEGIN ') ? [t.slice(0, close + 5), rest] : [line];
}

/** The label of a "-----BEGIN LABEL-----" line, else undefined. */
function beginLabel(line: string): string | undefined {
  const t = line.trim();
  if (!t.startsWith('-----BEGIN ') || !t.endsWith('-----')) return undefined;
  const label = t.slice('-----BEGIN '.length, -5);
  return label !== '' && !label.startsWith('-') ? label : undefined;
}

/**
 * Every PEM block in `text`, in order. A BEGIN without its END means the file was cut
 * short: refused, since the half we have is useless and silently skipping it would only
 * move the error to a vaguer "missing key" later.
 */
export function parsePemBlocks(text: string, display: string, file?: string): PemBlock[] {
  const lines = pemLines(text);
  const blocks: PemBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const label = beginLabel(lines[i]!);
    if (label === undefined) continue;
    const endLine = `-----END ${label}-----`;
    // Forward from the BEGIN line only, and past the END afterwards: every line is looked at once.
    let end = i + 1;
    while (end < lines.length && lines[end]!.trim() !== endLine) end++;
    if (end === lines.length) {
      throw new ImportError(
        `${display}: the ${printable(label)} block starting on line ${i + 1} has no END line (the file is cut short) — get ${display} again from your administrator`,
        file,
      );
    }
    const body = lines.slice(i, end + 1).map((l) => l.trim());
    if (!IGNORED_LABELS.has(label)) {
      blocks.push({
        label,
        kind: kindOf(label),
        text: `${body.join('\n')}\n`,
        line: i + 1,
      });
    }
    i = end;
  }
  return blocks;
}

/** OpenVPN static keys (tls-auth, tls-crypt) are 2048 bits written as 16 lines of hex. */
export function checkStaticKey(block: PemBlock, display: string, file?: string): void {
  const hex = block.text
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'))
    .join('');
  const ok = block.kind === 'static-key' ? /^[0-9a-fA-F]{512}$/.test(hex) : /^[A-Za-z0-9+/]+=*$/.test(hex) && hex.length >= 64;
  if (!ok) throw new ImportError(`${display}: the ${printable(block.label)} is damaged — get the profile again from your administrator`, file);
}
