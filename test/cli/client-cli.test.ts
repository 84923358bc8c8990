/**
 * The `ferry` CLI with bad input and failures that need no network: each gets exit 2 (bad
 * input) or 1 (failed), one clear line on stderr, and a $FERRY_HOME left as it was.
 */
import { chmod, mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { addAccounts, ferryServer, initServer, snapshot, tempDir } from '../support/cli.js';
import { clientHome, ferry, type ClientHome } from '../support/ferry.js';
import { DAY, makeCa, makeClient, NOW } from '../fixtures/import/generate.js';

/** Fixture offsets are relative to the fixtures' fixed NOW; these make them relative to the real clock. */
const sinceFixtureNow = (Date.now() - NOW.getTime()) / DAY;

function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter(Boolean);
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe('ferry CLI', () => {
  let bundle: string;
  let password: string;

  beforeAll(async () => {
    const serverDir = await initServer();
    password = (await addAccounts(serverDir, ['alice'])).get('alice')!;
    bundle = path.join(await tempDir(), 'alice.zip');
    expect((await ferryServer(['client', 'bundle', 'alice', '--dir', serverDir, '--out', bundle])).code).toBe(0);
  });

  async function withProfile(): Promise<ClientHome> {
    const client = await clientHome();
    const result = await ferry(client, ['import', bundle]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^imported "alice": gateway 198\.18\.1\.1:1194 \(tcp\), user alice, password required$/m);
    return client;
  }

  it('prints its usage', async () => {
    const result = await ferry(await clientHome(), ['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/ferry connect NAME \[--password-stdin\] \[--otp-stdin\] \[--save-password\] \[--json\]/);
    expect(result.stdout).toMatch(/--password-stdin --otp-stdin: the password on the first line of stdin, the code on the second/);
    expect(result.stdout).not.toMatch(/--otp CODE/);
  });

  it('refuses a one-time code in the command line (where `ps` shows it to everyone), naming --otp-stdin, without echoing it', async () => {
    const client = await withProfile();
    client.env.FERRY_OPENVPN = '/nonexistent/openvpn'; // should anything start, it fails at once
    for (const args of [['--otp', '731904'], ['--otp=731904'], ['--password-stdin', '--otp', '731904'], ['--otp']]) {
      const result = await ferry(client, ['connect', 'alice', ...args], `${password}\n`);
      expect(result.code, args.join(' ')).toBe(2);
      const line = oneLine(result.stderr);
      expect(line).toMatch(/^ferry: --otp CODE is no longer accepted: .*`ps`.*; pipe it with --otp-stdin/);
      expect(line).not.toContain('731904');
      expect(result.stdout).toBe('');
    }
  });

  it('reads the password and the code as two lines of stdin, and refuses anything it would have to guess at', async () => {
    const client = await withProfile();
    client.env.FERRY_OPENVPN = '/nonexistent/openvpn';
    const both = ['--password-stdin', '--otp-stdin'];
    const cases: Array<[string[], string, RegExp]> = [
      [both, `${password}\n`, /^ferry: --password-stdin --otp-stdin read 2 lines from stdin \(line 1: the password, line 2: the one-time code\), and stdin had 1: pipe one secret per line, in that order$/],
      [both, `${password}\n731904\nextra\n`, /and stdin had 3: pipe one secret per line/],
      [both, '', /and stdin had 0/],
      [both, '\n731904\n', /^ferry: line 1 of stdin, the password for --password-stdin, is empty$/],
      [['--otp-stdin'], '731904\n999999\n', /^ferry: --otp-stdin reads 1 line from stdin \(the one-time code\), and stdin had 2/],
      [['--password-stdin'], `${password}\n731904\n`, /^ferry: --password-stdin reads 1 line from stdin \(the password\), and stdin had 2/],
    ];
    for (const [args, input, message] of cases) {
      const result = await ferry(client, ['connect', 'alice', ...args], input);
      expect(result.code, `${args.join(' ')} ${JSON.stringify(input)}`).toBe(2);
      const line = oneLine(result.stderr);
      expect(line).toMatch(message);
      expect(line).not.toContain(password);
      expect(line).not.toContain('731904');
    }
    // Two good lines get past the framing to the connection itself (here: no openvpn), CRLF too.
    for (const input of [`${password}\n731904\n`, `${password}\r\n731904`]) {
      const ok = await ferry(client, ['connect', 'alice', ...both, '--json'], input);
      expect(ok.code).toBe(1);
      expect(oneLine(ok.stderr)).toMatch(/^ferry: openvpn not found/);
    }
  });

  it('refuses bad files with one line naming the file, and stores nothing', async () => {
    const client = await withProfile();
    const before = await snapshot(client.home);
    const dir = await tempDir('ferry-bad-');
    const garbage = path.join(dir, 'garbage.bin');
    await writeFile(garbage, Buffer.from([0, 1, 2, 3, 255, 254, 10, 13]));
    const unsafe = path.join(dir, 'office.ovpn');
    await writeFile(unsafe, ['client', 'remote 198.18.1.1 1194', 'up /bin/sh', ''].join('\n'));
    const cases: Array<[string[], RegExp]> = [
      [[garbage], /garbage\.bin is not a PEM certificate or key, an \.ovpn profile, a \.zip bundle or a PKCS#12 file/],
      [[unsafe], /office\.ovpn line 3: "up"/],
      [[path.join(dir, 'missing.crt')], /missing\.crt/],
      [[bundle, '--proto', 'sctp'], /--proto must be tcp or udp/],
      [[bundle, '--gateway', 'host:99999'], /--gateway port 99999 is not between 1 and 65535/],
      [[bundle], /a profile named "alice" already exists/],
    ];
    for (const [args, message] of cases) {
      const result = await ferry(client, ['import', ...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(oneLine(result.stderr)).toMatch(message);
    }
    expect(await snapshot(client.home)).toEqual(before);
  });

  it('names an unknown profile and the ones there are', async () => {
    const client = await withProfile();
    const result = await ferry(client, ['connect', 'bob']);
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).toBe('ferry: no profile named "bob" (profiles: "alice")');
  });

  /** The terminal's language for the failure reason: LANG alone decides (LC_ALL and LC_MESSAGES unset). */
  const inLanguage = (client: ClientHome, lang: string) => {
    delete client.env.LC_ALL;
    delete client.env.LC_MESSAGES;
    client.env.LANG = lang;
  };

  it('reports openvpn missing as the reason, with what to install (LANG=en_US.UTF-8)', async () => {
    const client = await withProfile();
    client.env.FERRY_OPENVPN = '/nonexistent/openvpn';
    inLanguage(client, 'en_US.UTF-8');
    const result = await ferry(client, ['connect', 'alice', '--password-stdin', '--json'], `${password}\n`);
    expect(result.code).toBe(1);
    const states = result.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { state?: string; code?: string; detail?: string; reason?: string });
    expect(states.map((s) => s.state)).toEqual(['CONNECTING', 'FAILED']);
    expect(states[1]).toMatchObject({ code: 'openvpn-missing', detail: 'openvpn-missing', reason: expect.stringMatching(/^openvpn not found: install OpenVPN 2\.6/) });
    expect(oneLine(result.stderr)).toMatch(/^ferry: openvpn not found: install OpenVPN 2\.6 \(Debian\/Ubuntu: apt install openvpn/);
  });

  it('says the reason in Chinese on a zh_CN terminal (LANG=zh_CN.UTF-8), codes unchanged', async () => {
    const client = await withProfile();
    client.env.FERRY_OPENVPN = '/nonexistent/openvpn';
    inLanguage(client, 'zh_CN.UTF-8');
    const result = await ferry(client, ['connect', 'alice', '--password-stdin', '--json'], `${password}\n`);
    expect(result.code).toBe(1);
    const failed = JSON.parse(result.stdout.split('\n').filter(Boolean).at(-1)!) as { state: string; code: string; reason: string };
    expect(failed).toMatchObject({ state: 'FAILED', code: 'openvpn-missing', reason: expect.stringMatching(/^找不到 openvpn：请安装 OpenVPN 2\.6/) });
    expect(oneLine(result.stderr)).toBe('ferry: 找不到 openvpn：请安装 OpenVPN 2.6（Debian/Ubuntu：apt install openvpn；macOS：重新安装 Ferry 的安装包，其中带有助手所运行的 openvpn），或将 FERRY_OPENVPN 设为其路径');
    // LC_ALL outranks LANG.
    client.env.LC_ALL = 'en_US.UTF-8';
    const english = await ferry(client, ['connect', 'alice', '--password-stdin'], `${password}\n`);
    expect(oneLine(english.stderr)).toMatch(/^ferry: openvpn not found/);
  });

  it('words a refusal of the core in the terminal\'s language: Chinese with LANG=zh_CN.UTF-8, English with LANG=en_US.UTF-8', async () => {
    const client = await withProfile();
    expect((await ferry(client, ['import', bundle, '--name', 'office'])).code).toBe(0);
    const before = await snapshot(client.home);
    inLanguage(client, 'zh_CN.UTF-8');
    const chinese = await ferry(client, ['set', 'office', '--name', 'alice']);
    expect(chinese.code).toBe(2);
    expect(oneLine(chinese.stderr)).toBe('ferry: 名为“alice”的配置已存在');
    inLanguage(client, 'en_US.UTF-8');
    const english = await ferry(client, ['set', 'office', '--name', 'alice']);
    expect(english.code).toBe(2);
    expect(oneLine(english.stderr)).toBe('ferry: a profile named "alice" already exists');
    expect(await snapshot(client.home)).toEqual(before);
  });

  it('a client certificate that expired since import fails at once with its date', async () => {
    const client = await withProfile();
    const ca = await makeCa({ cn: 'Old CA', fromDays: sinceFixtureNow - 400 });
    const expired = await makeClient(ca, { cn: 'alice', fromDays: sinceFixtureNow - 300, toDays: sinceFixtureNow - 2 });
    const dirs = await readdir(path.join(client.home, 'profiles'));
    await writeFile(path.join(client.home, 'profiles', dirs[0]!, 'client.crt'), expired.certPem);
    inLanguage(client, 'en_US.UTF-8');
    const result = await ferry(client, ['connect', 'alice', '--password-stdin', '--json'], `${password}\n`);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/"state":"FAILED".*"code":"cert-expired"/);
    expect(oneLine(result.stderr)).toMatch(/^ferry: your client certificate expired on \d{4}-\d\d-\d\d; ask your administrator for a new one/);
    inLanguage(client, 'zh_CN.UTF-8');
    const chinese = await ferry(client, ['connect', 'alice', '--password-stdin'], `${password}\n`);
    expect(oneLine(chinese.stderr)).toMatch(/^ferry: 您的客户端证书已于 \d{4}-\d\d-\d\d 过期；请向管理员申请新证书并导入$/);
  });

  it('without a keychain, saving an OTP secret fails plainly and changes nothing', async () => {
    const client = await withProfile();
    client.env.DBUS_SESSION_BUS_ADDRESS = 'unix:path=/nonexistent/bus';
    const before = await snapshot(client.home);
    const result = await ferry(client, ['set', 'alice', '--otp', 'totp', '--otp-secret-stdin'], 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n');
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toMatch(/^ferry: no OS keychain is reachable \(.+\); Ferry will ask for secrets each time instead of saving them$/);
    expect(await snapshot(client.home)).toEqual(before);
  });

  it('refuses bad settings with exit 2', async () => {
    const client = await withProfile();
    const cases: Array<[string[], RegExp]> = [
      [['--reconnect-timeout', '2'], /--reconnect-timeout must be a whole number of seconds from 5 to 86400/],
      [['--otp', 'sms'], /--otp must be none, totp or hotp/],
      [['--otp', 'totp'], /needs the token's secret: pipe it with --otp-secret-stdin/],
      [['--auto-connect', 'maybe'], /--auto-connect must be "yes" or "no"/],
      [['--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const result = await ferry(client, ['set', 'alice', ...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(oneLine(result.stderr)).toMatch(message);
    }
    const secretCheck = await ferry(client, ['set', 'alice', '--otp', 'totp', '--otp-secret-stdin'], 'not base32!\n');
    expect(secretCheck.code).toBe(2);
    expect(oneLine(secretCheck.stderr)).toMatch(/the OTP secret must be the base32 text/);
  });

  it('without $XDG_RUNTIME_DIR, a /tmp/ferry-<uid> planted by someone else (here a symlink) does not lock `ferry status` out', async () => {
    const client = await clientHome();
    const base = await tempDir('ferry-squat-');
    const tmp = path.join(base, 'tmp');
    const elsewhere = path.join(base, 'elsewhere');
    await mkdir(elsewhere);
    await mkdir(tmp);
    await chmod(tmp, 0o1777);
    await symlink(elsewhere, path.join(tmp, `ferry-${process.getuid!()}`));
    const { XDG_RUNTIME_DIR: _unset, ...rest } = client.env;
    client.env = { ...rest, TMPDIR: tmp, HOME: path.join(base, 'home'), XDG_CACHE_HOME: path.join(base, 'cache') };
    const result = await ferry(client, ['status']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('no active sessions\n');
    expect(await readdir(elsewhere)).toEqual([]);
  });

  it('shows an IPv6 gateway as [address]:port, so the port cannot be read as part of the address', async () => {
    const client = await clientHome();
    const imported = await ferry(client, ['import', bundle, '--gateway', '[2001:db8::1]:1195']);
    expect(imported.stderr).toBe('');
    expect(imported.stdout).toMatch(/^imported "alice": gateway \[2001:db8::1\]:1195 \(tcp\)/m);
    expect((await ferry(client, ['profiles'])).stdout).toMatch(/^alice\t\[2001:db8::1\]:1195\/tcp\t/m);
    expect((await ferry(client, ['show', 'alice'])).stdout).toMatch(/^gateway: +\[2001:db8::1\]:1195 \(tcp\)$/m);
  });

  it('a damaged profile is reported while the others still list', async () => {
    const client = await withProfile();
    const broken = path.join(client.home, 'profiles', 'broken-000000');
    await mkdir(broken, { recursive: true });
    await writeFile(path.join(broken, 'profile.json'), '{ not json');
    const result = await ferry(client, ['profiles']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^alice\t198\.18\.1\.1:1194\/tcp\talice\tDISCONNECTED$/m);
    expect(oneLine(result.stderr)).toMatch(/profile broken-000000 is damaged: .* is not valid JSON; remove it with `ferry remove broken-000000`/);
    expect((await ferry(client, ['remove', 'broken-000000'])).code).toBe(0);
    expect((await ferry(client, ['profiles'])).stderr).toBe('');
  });
});
