/**
 * Bundle (.zip) import: ferry-server's own bundles round-trip, and the zip safety rules
 * (size, entry count, real inflated size, paths, encryption) refuse hostile archives.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { strToU8, UnzipInflate, zipSync, type Zippable } from 'fflate';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MAX_ENTRY_BYTES, readZip } from '../../core/profile/archive.js';
import { importFiles } from '../../core/profile/import.js';
import { addAccounts, ferryServer, initServer, tempDir, unpackBundle } from '../support/cli.js';
import { NOW, inline, makeCa, makeClient, markEncrypted, writeFiles, type Identity } from '../fixtures/import/generate.js';
import { refusal } from '../fixtures/import/refusal.js';

let dir: string;
let ca: Identity;
let client: Identity;
let n = 0;

beforeAll(async () => {
  dir = await tempDir('ferry-zip-');
  ca = await makeCa({ cn: 'Zip CA' });
  client = await makeClient(ca, { cn: 'zoe' });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeZip(files: Zippable | Uint8Array, name = 'bundle.zip'): Promise<string> {
  const data = files instanceof Uint8Array ? files : zipSync(files, { level: 9 });
  const [p] = await writeFiles(path.join(dir, `z${++n}`), { [name]: data });
  return p!;
}

function pemEntries(): Zippable {
  return { 'ca.crt': strToU8(ca.certPem), 'client.crt': strToU8(client.certPem), 'client.key': strToU8(client.keyPem) };
}

/** Overwrites the 32-bit sizes in every local and central header (a lying archive). */
function lieAboutSizes(zip: Uint8Array, size: number): Uint8Array {
  const buf = Buffer.from(zip);
  for (let i = 0; i + 4 <= buf.length; i++) {
    const sig = buf.readUInt32LE(i);
    if (sig === 0x04034b50) buf.writeUInt32LE(size, i + 22);
    if (sig === 0x02014b50) buf.writeUInt32LE(size, i + 24);
  }
  return buf;
}

function setMethod(zip: Uint8Array, method: number): Uint8Array {
  const buf = Buffer.from(zip);
  for (let i = 0; i + 4 <= buf.length; i++) {
    const sig = buf.readUInt32LE(i);
    if (sig === 0x04034b50) buf.writeUInt16LE(method, i + 8);
    if (sig === 0x02014b50) buf.writeUInt16LE(method, i + 10);
  }
  return buf;
}

describe('ferry-server bundles round-trip', () => {
  it.each([
    ['two-factor on, UDP 1195', ['--proto', 'udp', '--port', '1195'], { port: 1195, proto: 'udp', passwordRequired: true, compress: undefined }],
    ['two-factor off, TCP 1194, compression', ['--no-two-factor', '--compress'], { port: 1194, proto: 'tcp', passwordRequired: false, compress: 'lz4-v2' }],
  ] as const)('%s', async (_label, flags, want) => {
    const state = await initServer([...flags]);
    await addAccounts(state, ['alice']);
    const zip = path.join(await tempDir(), 'download.zip');
    const bundled = await ferryServer(['client', 'bundle', '--dir', state, 'alice', '--out', zip]);
    expect(bundled.code, bundled.stderr).toBe(0);
    const settings = JSON.parse(await readFile(path.join(state, 'settings.json'), 'utf8')) as { serverCommonName: string; host: string };

    const result = await importFiles([zip]);
    expect(result.draft).toMatchObject({
      name: 'alice',
      username: 'alice',
      remotes: [{ host: settings.host, port: want.port, proto: want.proto }],
      passwordRequired: want.passwordRequired,
      keyEncrypted: false,
      files: ['ca.crt', 'client.crt', 'client.key'],
    });
    // The bundle's own options, exactly as ferry-server writes them (its compression too).
    expect(result.draft.engine).toEqual({
      dev: 'tun',
      directives: [
        { name: 'remote-cert-tls', args: ['server'] },
        { name: 'verify-x509-name', args: [settings.serverCommonName, 'name'] },
        { name: 'tls-version-min', args: ['1.2'] },
        { name: 'data-ciphers', args: ['AES-256-GCM'] },
        ...(want.compress ? [{ name: 'allow-compression', args: ['yes'] }, { name: 'compress', args: [want.compress] }] : []),
      ],
    });
    expect(result.certificates.map((c) => [c.role, c.subject, c.keyType])).toEqual([
      ['ca', 'CN=Ferry CA (ferry)', 'EC P-256'],
      ['client', 'CN=alice', 'EC P-256'],
    ]);
    expect(result.warnings).toEqual([]);

    // The same bundle unpacked: its .ovpn alone, and its three PEM files with --gateway, agree.
    const unpacked = await unpackBundle(state, 'alice');
    const viaOvpn = await importFiles([path.join(unpacked, 'alice.ovpn')]);
    expect(viaOvpn.draft).toEqual(result.draft);
    expect(viaOvpn.files).toEqual(result.files);
    const viaPems = await importFiles(
      ['client.key', 'ca.crt', 'client.crt'].map((f) => path.join(unpacked, f)),
      { gateway: { host: settings.host, port: want.port }, proto: want.proto, noPassword: !want.passwordRequired },
    );
    expect(viaPems.files).toEqual(result.files);
    expect(viaPems.draft.remotes).toEqual(result.draft.remotes);
    expect(viaPems.draft.passwordRequired).toBe(want.passwordRequired);
  });
});

describe('zips that are not ferry-server bundles', () => {
  it('imports a zip of the three PEM files (with --gateway), named after the zip', async () => {
    const zip = await writeZip({ ...pemEntries(), '__MACOSX/._ca.crt': strToU8('\u0000\u0005junk'), 'keys/': new Uint8Array(0) }, 'office.zip');
    const result = await importFiles([zip], { now: NOW, gateway: { host: 'vpn.example.com' } });
    expect(result.draft).toMatchObject({ name: 'office', username: 'zoe', remotes: [{ host: 'vpn.example.com', port: 1194, proto: 'tcp' }] });
  });

  it('resolves files an .ovpn inside the zip names, relative to the .ovpn', async () => {
    const ovpn = ['client', 'remote vpn.example.com 443 tcp', 'ca ca.crt', 'cert client.crt', 'key ../top.key', ''].join('\n');
    const refused = await writeZip({ 'p/x.ovpn': strToU8(ovpn), 'p/ca.crt': strToU8(ca.certPem), 'p/client.crt': strToU8(client.certPem), 'top.key': strToU8(client.keyPem) });
    expect((await refusal(importFiles([refused], { now: NOW }))).message).toBe(
      'bundle.zip:p/x.ovpn line 5: "key ../top.key" points outside the profile\'s folder — copy the file next to bundle.zip:p/x.ovpn, write "key top.key" and import again',
    );
    const good = await writeZip({
      'p/x.ovpn': strToU8(ovpn.replace('../top.key', 'keys/client.key')),
      'p/ca.crt': strToU8(ca.certPem),
      'p/client.crt': strToU8(client.certPem),
      'p/keys/client.key': strToU8(client.keyPem),
    });
    const result = await importFiles([good], { now: NOW });
    expect(result.draft).toMatchObject({ name: 'x', remotes: [{ host: 'vpn.example.com', port: 443, proto: 'tcp' }] });
    const missing = await writeZip({ 'x.ovpn': strToU8(ovpn.replace('../top.key', 'gone.key')), 'ca.crt': strToU8(ca.certPem), 'client.crt': strToU8(client.certPem) });
    expect((await refusal(importFiles([missing], { now: NOW }))).message).toBe(
      'bundle.zip:x.ovpn line 5: "key gone.key": gone.key is not in bundle.zip — ask your administrator for a new bundle',
    );
  });

  it('an .ovpn inside a zip is held to the same option table', async () => {
    const zip = await writeZip({ 'evil.ovpn': strToU8(['client', 'remote vpn.example.com', 'script-security 2', 'up "/bin/sh -c id"', inline('ca', ca.certPem)].join('\n')) });
    expect((await refusal(importFiles([zip], { now: NOW }))).message).toBe(
      'bundle.zip:evil.ovpn line 4: "up" runs a script; Ferry never runs scripts from a profile — remove the line and import again',
    );
  });
});

describe('zip safety', () => {
  type Case = [label: string, build: () => Uint8Array | Promise<Uint8Array>, message: string];
  const NOT_BUNDLE = 'this is not a Ferry bundle; ask your administrator for a new one';
  const cases: Case[] = [
    ['a zip bomb (50 MB of zeros)', () => zipSync({ 'client.key': new Uint8Array(50 * 1024 * 1024) }, { level: 9 }), `bundle.zip: entry "client.key" unpacks to more than 256 KiB (a zip bomb?) — ${NOT_BUNDLE}`],
    [
      'a zip bomb whose headers claim 100 bytes',
      () => lieAboutSizes(zipSync({ 'ca.crt': new Uint8Array(20 * 1024 * 1024) }, { level: 9 }), 100),
      `bundle.zip: entry "ca.crt" unpacks to more than 256 KiB (a zip bomb?) — ${NOT_BUNDLE}`,
    ],
    ['a "../" entry', () => zipSync({ '../evil.ovpn': strToU8('client\n') }), `bundle.zip: entry "../evil.ovpn" points outside the archive — ${NOT_BUNDLE}`],
    ['a nested "../" entry', () => zipSync({ 'a/../../evil.ovpn': strToU8('client\n') }), `bundle.zip: entry "a/../../evil.ovpn" points outside the archive — ${NOT_BUNDLE}`],
    ['an absolute entry', () => zipSync({ '/etc/cron.d/x': strToU8('client\n') }), `bundle.zip: entry "/etc/cron.d/x" points outside the archive — ${NOT_BUNDLE}`],
    ['a Windows drive entry', () => zipSync({ 'C:\\x.ovpn': strToU8('client\n') }), `bundle.zip: entry "C:\\x.ovpn" points outside the archive — ${NOT_BUNDLE}`],
    [
      '17 entries',
      () => zipSync(Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`f${i}.txt`, strToU8('x')]))),
      `bundle.zip has more than 16 entries — ${NOT_BUNDLE}`,
    ],
    [
      'an encrypted zip',
      () => markEncrypted(zipSync(pemEntries())),
      'bundle.zip is password-protected (encrypted); Ferry reads only plain bundles — unzip it yourself and import the files inside',
    ],
    [
      'an unknown compression method',
      () => setMethod(zipSync(pemEntries(), { level: 0 }), 14),
      'bundle.zip: entry "ca.crt" uses compression method 14, which Ferry does not read — zip the files again with standard (deflate) compression',
    ],
    ['a truncated download', () => zipSync(pemEntries()).slice(0, 700), 'bundle.zip is damaged (no zip directory: the download is incomplete) — download it again'],
    ['an empty zip', () => zipSync({}), 'bundle.zip is empty — ask your administrator for a new bundle'],
    ['a zip inside the zip', () => zipSync({ 'inner.zip': zipSync(pemEntries()) }), 'bundle.zip holds another archive (inner.zip) — unzip it yourself and import the files inside'],
    [
      'two profiles',
      () => zipSync({ 'a.ovpn': strToU8('client\n'), 'b.ovpn': strToU8('client\n') }),
      'bundle.zip holds several profiles (a.ovpn, b.ovpn) — unzip it and import the one you need',
    ],
    [
      'junk beside the PEM files',
      () => zipSync({ ...pemEntries(), 'readme.bin': new Uint8Array([0, 1, 2, 3, 255]) }),
      'bundle.zip:readme.bin is not a PEM certificate or key, an .ovpn profile, a .zip bundle or a PKCS#12 file — import the files your administrator sent',
    ],
    [
      'a zip over 1 MiB',
      () => zipSync({ 'big.bin': new Uint8Array(Buffer.alloc(1100 * 1024, 7).map((_, i) => (i * 2654435761) >>> 24)) }, { level: 0 }),
      'bundle.zip is 1.1 MiB; profile files are at most 1 MiB — is this the right file?',
    ],
  ];

  it.each(cases)('refuses %s', async (_label, build, message) => {
    const zip = await writeZip(await build());
    const e = await refusal(importFiles([zip], { now: NOW, gateway: { host: 'vpn.example.com' } }));
    expect(e.message).toBe(message);
    expect(e.file).toBe(zip);
  });

  it('counts inflated bytes exactly: 256 KiB passes, one byte more does not', () => {
    const ok = readZip(zipSync({ 'a.bin': new Uint8Array(MAX_ENTRY_BYTES) }), 'z.zip', 'z.zip');
    expect(ok.map((e) => [e.path, e.data.length])).toEqual([['a.bin', MAX_ENTRY_BYTES]]);
    expect(() => readZip(zipSync({ 'a.bin': new Uint8Array(MAX_ENTRY_BYTES + 1) }), 'z.zip', 'z.zip')).toThrow(/unpacks to more than 256 KiB/);
  });

  it('stops a bomb without inflating its payload (the inflater never emits more than a few hundred KiB)', () => {
    const bomb = zipSync({ 'client.key': new Uint8Array(50 * 1024 * 1024) }, { level: 9 });
    let emitted = 0;
    let largest = 0;
    const push = UnzipInflate.prototype.push;
    const spy = vi.spyOn(UnzipInflate.prototype, 'push').mockImplementation(function (this: UnzipInflate, chunk, final) {
      const ondata = this.ondata;
      this.ondata = (err, data, fin) => {
        emitted += data?.length ?? 0;
        largest = Math.max(largest, data?.length ?? 0);
        ondata(err, data, fin);
      };
      push.call(this, chunk, final);
      this.ondata = ondata;
    });
    try {
      expect(() => readZip(bomb, 'b.zip', 'b.zip')).toThrow(/zip bomb/);
    } finally {
      spy.mockRestore();
    }
    expect(emitted).toBeGreaterThan(MAX_ENTRY_BYTES);
    expect(largest).toBeLessThan(300 * 1024);
    expect(emitted).toBeLessThan(MAX_ENTRY_BYTES + 300 * 1024);
  });
});
