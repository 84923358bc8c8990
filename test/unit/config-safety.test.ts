/**
 * Attacks on the openvpn configs Ferry writes. The client config is also written by
 * ferry-helper, as root, from a local user's request: a value that ends a line or runs
 * past openvpn's line limit would hand that user a directive of their own. Each built
 * config is read back with the importer's tokenizer (openvpn's parse_line rules) and must
 * hold exactly the directives a harmless spec gives, every value intact, every line
 * within openvpn's limit.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildClientConfig, EngineSpecSchema, type EngineSpec } from '../../core/engine/config.js';
import { interpretOvpn, tokenizeLine } from '../../core/profile/ovpn.js';
import { buildServerConfig } from '../../server/openvpn-config.js';
import type { Settings } from '../../server/settings.js';
import { StateDir } from '../../server/store.js';
import { tempDir } from '../support/cli.js';
import { installedOpenvpn } from '../support/openvpn.js';

/**
 * openvpn 2.6 (src/openvpn/options.c read_config_file) reads a line with fgets into
 * OPTION_LINE_SIZE + 1 = 257 bytes and refuses it once strlen, newline included, reaches
 * 256: 254 bytes of text at most.
 */
const OPENVPN_MAX_LINE = 254;

const HELPER_HOOK = { upHook: '/bin/sh /run/ferry/sessions/0123456789abcdef/dns-up.sh' };

const base: EngineSpec = {
  remotes: [{ host: 'vpn.example.test', port: 1194, proto: 'udp' }],
  engine: {
    dev: 'tun',
    remoteCertTls: 'server',
    dataCiphers: 'AES-256-GCM:AES-128-GCM',
    dataCiphersFallback: 'AES-256-CBC',
    auth: 'SHA256',
    tlsCipher: 'TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384',
    verifyX509Name: { name: 'gateway', type: 'name-prefix' },
    pullFilterIgnore: ['redirect-gateway'],
    redirectGateway: ['def1'],
    tlsAuth: { direction: 1 },
  },
  passwordRequired: true,
  staticChallenge: { text: 'Enter code', echo: true },
  files: { ca: '/p/ca.crt', cert: '/p/client.crt', key: '/p/client.key', tlsAuth: '/p/ta.key' },
  managementSocket: '/run/user/1000/ferry/x/management.sock',
  guiVersion: 'Ferry 0.1.0',
};

/** The config's directives, each line tokenised as openvpn does. */
function directives(config: string): string[][] {
  return config.split('\n').map((line, i) => tokenizeLine(line, i + 1, 'built.conf')).filter((words) => words.length > 0);
}

function expectSafe(config: string, like: string): string[][] {
  for (const line of config.split('\n')) expect(Buffer.byteLength(line), line.slice(0, 60)).toBeLessThanOrEqual(OPENVPN_MAX_LINE);
  const parsed = directives(config);
  expect(parsed.map((d) => d[0])).toEqual(directives(like).map((d) => d[0]));
  return parsed;
}

/** A string field of the spec: how to set it, and what openvpn must read back. */
interface Field {
  name: string;
  /** Characters worth filling it with: plain, ones quoting doubles, multi-byte UTF-8. */
  chars: string[];
  make?: (fill: string) => string;
  set: (spec: EngineSpec, value: string) => EngineSpec;
  /** The directive and parameter position it lands in. */
  read: [string, number];
}

const withEngine = (s: EngineSpec, engine: Partial<EngineSpec['engine']>): EngineSpec => ({ ...s, engine: { ...s.engine, ...engine } });
/** A kept option written as given (the option table's pass-through), replacing one of the same name. */
const withDirective = (s: EngineSpec, name: string, args: string[]): EngineSpec =>
  withEngine(s, { directives: [...(s.engine.directives ?? []).filter((d) => d.name !== name), { name, args }] });
const TEXT = ['a', '"', '\\', '码', '😀'];
const PATH = ['a', '\\', '码'];
const path = (fill: string) => (fill.startsWith('\\') ? `C:${fill}` : `/${fill}`);

const FIELDS: Field[] = [
  { name: 'remote host', chars: ['a'], set: (s, v) => ({ ...s, remotes: [{ host: v, port: 65535, proto: 'tcp' }] }), read: ['remote', 1] },
  { name: 'data-ciphers', chars: ['A'], set: (s, v) => withEngine(s, { dataCiphers: v }), read: ['data-ciphers', 1] },
  { name: 'data-ciphers-fallback', chars: ['A'], set: (s, v) => withEngine(s, { dataCiphersFallback: v }), read: ['data-ciphers-fallback', 1] },
  { name: 'auth', chars: ['A'], set: (s, v) => withEngine(s, { auth: v }), read: ['auth', 1] },
  { name: 'tls-cipher', chars: ['A'], set: (s, v) => withEngine(s, { tlsCipher: v }), read: ['tls-cipher', 1] },
  { name: 'verify-x509-name', chars: TEXT, set: (s, v) => withEngine(s, { verifyX509Name: { name: v, type: 'name-prefix' } }), read: ['verify-x509-name', 1] },
  { name: 'pull-filter ignore', chars: ['a'], set: (s, v) => withEngine(s, { pullFilterIgnore: [v] }), read: ['pull-filter', 2] },
  { name: 'remote-cert-eku (free text, kept as written)', chars: TEXT, set: (s, v) => withDirective(s, 'remote-cert-eku', [v]), read: ['remote-cert-eku', 1] },
  { name: 'http-proxy-option AGENT (free text)', chars: TEXT, set: (s, v) => withDirective(s, 'http-proxy-option', ['AGENT', v]), read: ['http-proxy-option', 2] },
  { name: 'dhcp-option DOMAIN (a word)', chars: ['a'], set: (s, v) => withDirective(s, 'dhcp-option', ['DOMAIN', v]), read: ['dhcp-option', 2] },
  { name: 'route gateway (a word)', chars: ['a'], set: (s, v) => withDirective(s, 'route', ['198.18.7.0', '255.255.255.0', v]), read: ['route', 3] },
  { name: 'tls-ciphersuites (a word)', chars: ['A'], set: (s, v) => withDirective(s, 'tls-ciphersuites', [v]), read: ['tls-ciphersuites', 1] },
  { name: 'static-challenge', chars: TEXT, set: (s, v) => ({ ...s, staticChallenge: { text: v, echo: true } }), read: ['static-challenge', 1] },
  { name: 'ca', chars: PATH, make: path, set: (s, v) => ({ ...s, files: { ...s.files, ca: v } }), read: ['ca', 1] },
  { name: 'cert', chars: PATH, make: path, set: (s, v) => ({ ...s, files: { ...s.files, cert: v } }), read: ['cert', 1] },
  { name: 'key', chars: PATH, make: path, set: (s, v) => ({ ...s, files: { ...s.files, key: v } }), read: ['key', 1] },
  { name: 'tls-auth', chars: PATH, make: path, set: (s, v) => ({ ...s, files: { ...s.files, tlsAuth: v } }), read: ['tls-auth', 1] },
  { name: 'tls-crypt', chars: PATH, make: path, set: (s, v) => ({ ...s, files: { ...s.files, tlsCrypt: v } }), read: ['tls-crypt', 1] },
  { name: 'tls-crypt-v2', chars: PATH, make: path, set: (s, v) => ({ ...s, files: { ...s.files, tlsCryptV2: v } }), read: ['tls-crypt-v2', 1] },
  { name: 'management socket', chars: PATH, make: path, set: (s, v) => ({ ...s, managementSocket: v }), read: ['management', 1] },
  { name: 'IV_GUI_VER', chars: ['a'], set: (s, v) => ({ ...s, guiVersion: v }), read: ['setenv', 2] },
];

const valueOf = (field: Field, fill: string) => (field.make ?? ((f) => f))(fill);

/** The longest value of `fill` repeated that the schema accepts (binary search), or undefined when it accepts none. */
function longestAccepted(field: Field, fill: string): string | undefined {
  const accepts = (n: number) => EngineSpecSchema.safeParse(field.set(base, valueOf(field, fill.repeat(n)))).success;
  if (!accepts(1)) return undefined;
  let [lo, hi] = [1, 4096];
  expect(accepts(hi), `${field.name}: no cap below ${hi}`).toBe(false);
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (accepts(mid)) lo = mid;
    else hi = mid;
  }
  return valueOf(field, fill.repeat(lo));
}

/** Bytes a value takes once quoted for openvpn (\ and " doubled, two quotes around). */
const quotedBytes = (value: string) => Buffer.byteLength(value.replace(/[\\"]/g, '\\$&')) + 2;

const BAD_CHARACTERS = ['\n', '\r', '\0', '\t', '\u000b', '\u001b', '\u007f', '\u0085', '\u009b', '\u2028', '\u2029'];

describe('the client config: a value cannot become a directive', () => {
  it('refuses a static-challenge text that would end the line', () => {
    for (const text of ['Code\n up /bin/sh', 'Code\r', 'Code\u0085', 'Code"\nscript-security 3\nup "/bin/sh']) {
      expect(() => buildClientConfig({ ...base, staticChallenge: { text, echo: true } }), JSON.stringify(text)).toThrow(/staticChallenge\.text: .*control character/);
    }
  });

  it('refuses a control character in every string field, naming the field', () => {
    for (const field of FIELDS) {
      for (const bad of BAD_CHARACTERS) {
        const value = (field.make ?? ((f) => f))(`a${bad}b`);
        const parsed = EngineSpecSchema.safeParse(field.set(base, value));
        expect(parsed.success, `${field.name} with ${JSON.stringify(bad)}`).toBe(false);
      }
    }
  });

  it('reads every maximal valid value back intact, on lines within openvpn\'s limit, with no directive added', () => {
    for (const field of FIELDS) {
      for (const fill of field.chars) {
        const value = longestAccepted(field, fill);
        if (value === undefined) continue; // the field refuses this character altogether
        for (const owned of [undefined, HELPER_HOOK]) {
          const parsed = expectSafe(buildClientConfig(field.set(base, value), owned), buildClientConfig(field.set(base, valueOf(field, 'a')), owned));
          const [directive, at] = field.read;
          expect(parsed.find((d) => d[0] === directive)?.[at], `${field.name}: ${value.length} × ${JSON.stringify(fill)}`).toBe(value);
        }
      }
    }
  });

  it('keeps lists within bounds too: redirect-gateway flags and pull-filter lines', () => {
    const flags = (n: number) => withEngine(base, { redirectGateway: Array(n).fill('block-local') });
    let n = 1;
    while (n < 64 && EngineSpecSchema.safeParse(flags(n + 1)).success) n++;
    expect(n).toBeLessThan(64);
    expectSafe(buildClientConfig(flags(n)), buildClientConfig(base));
    const filters = (k: number) => withEngine(base, { pullFilterIgnore: Array(k).fill('a'.repeat(64)) });
    expect(EngineSpecSchema.safeParse(filters(1000)).success).toBe(false);
  });

  it('holds only kept options of the table, each within its bounds, and only so many', () => {
    const refused: Array<[string, string[]]> = [
      ['up', ['/bin/sh']],
      ['script-security', ['3']],
      ['management', ['0.0.0.0', '7505']],
      ['log', ['/etc/passwd']],
      ['__proto__', []],
      ['cipher', ['none']],
      ['tls-cert-profile', ['insecure']],
      ['route', ['198.18.7.0', '255.255.255.0\nup /bin/sh']],
      ['reneg-sec', ['-1']],
      ['remote-cert-eku', ['x'.repeat(201)]],
      ['keepalive', ['10', '15']],
    ];
    for (const [name, args] of refused) {
      expect(EngineSpecSchema.safeParse(withDirective(base, name, args)).success, `${name} ${args.join(' ')}`).toBe(false);
      expect(() => buildClientConfig(withDirective(base, name, args))).toThrow(/^openvpn config: engine\.directives\./);
    }
    const many = Array.from({ length: 2001 }, (_, i) => ({ name: 'route', args: [`198.18.${i >> 8}.${i & 255}`] }));
    expect(EngineSpecSchema.safeParse(withEngine(base, { directives: many })).success).toBe(false);
  });

  /** Every field at its longest, each filled with what takes the most bytes once quoted. */
  const longestSpec = () =>
    FIELDS.reduce((spec, field) => {
      const values = field.chars.flatMap((fill) => longestAccepted(field, fill) ?? []);
      return field.set(spec, values.sort((a, b) => quotedBytes(b) - quotedBytes(a))[0]!);
    }, base);

  it('every field at its longest at once still gives a config openvpn reads as written', () => {
    const longest = longestSpec();
    expect(EngineSpecSchema.safeParse(longest).success).toBe(true);
    const like = FIELDS.reduce((spec, field) => field.set(spec, valueOf(field, 'a')), base);
    expectSafe(buildClientConfig(longest, HELPER_HOOK), buildClientConfig(like, HELPER_HOOK));
  });

  const openvpn = installedOpenvpn();

  it.skipIf(!openvpn)('openvpn 2.6 itself parses that config without an options error', async () => {
    // `--version` after `--config` exits once the file is parsed, before any file it names is opened.
    const file = join(await tempDir('ferry-config-'), 'longest.conf');
    await writeFile(file, buildClientConfig(longestSpec(), HELPER_HOOK));
    const result = await new Promise<{ code: number; output: string }>((resolve) =>
      execFile(openvpn!, ['--config', file, '--version'], (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, output: stdout + stderr })),
    );
    expect(result.output).not.toMatch(/Options error|Maximum option line length/);
    expect(result.code).toBe(0);
  });

  it('a 256-character verify-x509-name of quotes and backslashes never reaches the config', () => {
    for (const name of ['"'.repeat(256), '\\'.repeat(256), 'a'.repeat(256), '"\\'.repeat(128)]) {
      expect(() => buildClientConfig(withEngine(base, { verifyX509Name: { name, type: 'name-prefix' } })), name.slice(0, 4)).toThrow(/verifyX509Name/);
    }
  });

  it('the builder itself refuses a line over the limit with one line naming it (the helper\'s hook is not schema-checked)', () => {
    let message = '';
    try {
      buildClientConfig(base, { upHook: `/bin/sh /${'a'.repeat(300)}` });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^openvpn config: line \d+ \("up"\) is 314 bytes, over openvpn's limit of 254; shorten its value$/);
  });

  it('a spec that fails its schema is one line naming the field and what is wrong', () => {
    expect(() => buildClientConfig({ ...base, staticChallenge: { text: 'a\nb', echo: false } })).toThrow(
      /^openvpn config: staticChallenge\.text: the static-challenge text cannot contain control characters \(line breaks, tabs, …\)$/,
    );
  });
});

describe('the importer names the line of a value the config could not carry', () => {
  const ovpn = (line: string) => ['client', 'remote vpn.example.test 1194', line, ''].join('\n');
  const cases: Array<[string, string]> = [
    ['a static-challenge text with NEL', 'static-challenge "Code\u0085" 1'],
    ['a static-challenge text with a tab', 'static-challenge "Code\there" 1'],
    ['a static-challenge text too long for the line', `static-challenge "${'a'.repeat(240)}" 1`],
    ['a verify-x509-name too long for the line', `verify-x509-name ${'a'.repeat(240)} name`],
    ['a tls-cipher too long for the line', `tls-cipher ${'A'.repeat(250)}`],
  ];
  for (const [what, line] of cases) {
    it(what, () => {
      expect(() => interpretOvpn(ovpn(line), 'office.ovpn')).toThrow(/^office\.ovpn line 3: /);
    });
  }
});

describe('the gateway config quotes what it writes', () => {
  const settings: Settings = {
    version: 1, name: 'ferry', host: '198.18.1.1', port: 1194, proto: 'udp', pool: '198.18.100.0/24', subnets: ['198.18.2.0/24'],
    dns: ['198.18.2.53'], cipher: 'AES-256-GCM', compress: true, twoFactor: true, maxClients: 10, keyType: 'ec',
    serverCommonName: 'ferry-gateway-00000000', profileRevision: 0,
  };

  it('a state directory with spaces, quotes and backslashes stays one parameter', () => {
    const dir = '/srv/my "ferry" \\ state';
    const parsed = directives(buildServerConfig(settings, new StateDir(dir)));
    expect(parsed.find((d) => d[0] === 'ca')).toEqual(['ca', `${dir}/pki/ca.crt`]);
    expect(parsed.find((d) => d[0] === 'management')).toEqual(['management', `${dir}/run/management.sock`, 'unix']);
    expect(parsed.filter((d) => d[0] === 'push')).toEqual([
      ['push', 'route 198.18.2.0 255.255.255.0'],
      ['push', 'dhcp-option DNS 198.18.2.53'],
      ['push', 'compress lz4-v2'],
    ]);
  });

  it('a state directory too long for openvpn\'s lines is refused with one line saying what to shorten', () => {
    expect(() => buildServerConfig(settings, new StateDir(`/${'d'.repeat(240)}`))).toThrow(/^the gateway's openvpn config: line \d+ \("ca"\) is \d+ bytes, over openvpn's limit of 254; use a shorter --dir$/);
  });
});
