/**
 * Hostile files an attacker can hand a user: inputs crafted to burn CPU in the readers
 * (PEM scanner, .ovpn blocks). Each must be refused with one actionable line, quickly:
 * the old code took seconds to minutes on most of them, and vitest's per-test timeout is
 * the hang guard (no timed assertion here).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFiles, MAX_FILE_BYTES, type ImportOptions } from '../../core/profile/import.js';
import { tempDir } from '../support/cli.js';
import { NOW, inline, makeCa, makeClient, writeFiles, type Identity } from '../fixtures/import/generate.js';
import { refusal } from '../fixtures/import/refusal.js';

const GW = { gateway: { host: 'vpn.example.com' }, now: NOW } satisfies ImportOptions;
/** The old code spent seconds to minutes here; the fixed code milliseconds. */
const HANG_GUARD = { timeout: 10_000 };

let dir: string;
let ca: Identity;
let client: Identity;
let n = 0;

beforeAll(async () => {
  dir = await tempDir('ferry-hostile-');
  ca = await makeCa({ cn: 'Hostile CA' });
  client = await makeClient(ca, { cn: 'mallory' });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function files(content: Record<string, string | Uint8Array>): Promise<string[]> {
  return writeFiles(path.join(dir, `h${++n}`), content);
}

/** `unit` repeated to just under the 1 MiB file limit. */
function fill(head: string, unit: string, limit = MAX_FILE_BYTES): string {
  return head + unit.repeat(Math.floor((limit - head.length) / unit.length));
}

describe('PEM scanner: linear on crafted text', () => {
  it('a BEGIN line, then "-----END " repeated on one 1 MiB line', HANG_GUARD, async () => {
    const paths = await files({ 'ca.crt': fill('-----BEGIN CERTIFICATE-----\n', '-----END ') });
    expect((await refusal(importFiles(paths, GW))).message).toBe(
      'ca.crt: the CERTIFICATE block starting on line 1 has no END line (the file is cut short) — get ca.crt again from your administrator',
    );
  });

  it('a BEGIN line, then "-----END " lines to 1 MiB', HANG_GUARD, async () => {
    const paths = await files({ 'ca.crt': fill('-----BEGIN CERTIFICATE-----\n', '-----END \n') });
    expect((await refusal(importFiles(paths, GW))).message).toMatch(/^ca\.crt: the CERTIFICATE block starting on line 1 has no END line/);
  });

  it('an otherwise valid profile whose <ca> ends in a line of "-----END " to 1 MiB is read, not chewed on', HANG_GUARD, async () => {
    const head = ['client', 'remote vpn.example.com', inline('cert', client.certPem), inline('key', client.keyPem), '<ca>', ca.certPem.trim(), ''].join('\n');
    const paths = await files({ 'p.ovpn': `${fill(head, '-----END ', MAX_FILE_BYTES - 8)}\n</ca>\n` });
    expect((await importFiles(paths, GW)).draft.name).toBe('p');
  });

  // The old scanner looked for each END from the top of the file: seconds, not minutes, at 1 MiB.
  it('1 MiB of tiny blocks', HANG_GUARD, async () => {
    const paths = await files({ 'ca.crt': fill('', '-----BEGIN A-----\n-----END A-----\n') });
    expect((await refusal(importFiles(paths, GW))).message).toBe('ca.crt holds a "A" block — leave it out and import again');
  });

  it('the same crafted line as a bundle entry', HANG_GUARD, async () => {
    const entry = fill('-----BEGIN CERTIFICATE-----\n', '-----END ', 256 * 1024);
    const paths = await files({ 'b.zip': zipSync({ 'ca.crt': strToU8(entry), 'client.crt': strToU8(client.certPem), 'client.key': strToU8(client.keyPem) }) });
    expect((await refusal(importFiles(paths, GW))).message).toMatch(/^b\.zip:ca\.crt: the CERTIFICATE block starting on line 1 has no END line/);
  });
});

describe('.ovpn reader: linear on crafted text', () => {
  // Each closing tag was searched for from the top of the file: ~10 s of CPU at 1 MiB.
  it('1 MiB of inline blocks', HANG_GUARD, async () => {
    const paths = await files({ 'p.ovpn': fill('client\n', '<ca>\n</ca>\n') });
    expect((await refusal(importFiles(paths, GW))).message).toBe('p.ovpn line 4: "ca" is given again (first on line 2) — keep one and import again');
  });

  it('1 MiB of <connection> blocks', HANG_GUARD, async () => {
    const paths = await files({ 'p.ovpn': fill('client\n', '<connection>\nremote a.example.com\n</connection>\n') });
    expect((await refusal(importFiles(paths, GW))).message).toBe('p.ovpn has no client certificate ("cert" or <cert>) and no "auth-user-pass" — ask your administrator for the complete profile');
  });

});
