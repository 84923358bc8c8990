/** ferry-server's command line: every validation rule refused clearly, with nothing changed on disk. */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { unzipSync, strFromU8 } from 'fflate';
import { describe, expect, it } from 'vitest';
import { FERRY_SERVER, ferryServer, initServer, snapshot, tempDir } from '../support/cli.js';

const run = promisify(execFile);

describe('ferry-server init', () => {
  it('creates a 0700 state directory with 0600 files', async () => {
    const dir = await initServer();
    const snap = await snapshot(dir);
    for (const [file, value] of Object.entries(snap)) {
      expect(value.split(':')[0], file).toBe(file.endsWith('/') ? '700' : '600');
    }
    expect(Object.keys(snap)).toEqual(expect.arrayContaining(['settings.json', 'index.json', 'pki/ca.key', 'pki/crl.pem', 'pki/auth-token.key']));
  });

  it.each([
    [['--subnet', '198.18.2.0/24'], /--host is required/],
    [['--host', 'gw.example'], /at least one --subnet is required/],
    [['--host', 'gw.example', '--subnet', '198.18.2.0/24', '--port', '80'], /--port 80 is out of range: choose a port from 1024 to 49151/],
    [['--host', 'gw.example', '--subnet', '198.18.2.0/24', '--port', 'abc'], /--port "abc" must be a whole number/],
    [['--host', 'gw.example', '--subnet', '198.18.2.0/24', '--proto', 'sctp'], /--proto "sctp" must be tcp or udp/],
    [['--host', 'gw.example', '--subnet', '198.18.2.0/24', '--pool', '198.18.2.128/25'], /overlaps local subnet 198.18.2.0\/24/],
    [['--host', 'gw.example', '--subnet', '198.18.2.0/24', '--pool', '198.18.100.0/28', '--max-clients', '20'], /holds 13 client addresses, fewer than --max-clients 20/],
    [['--host', 'gw.example', '--subnet', '198.18.2.0/24', '--cipher', 'BF-CBC'], /AEAD ciphers only/],
    [['--host', 'gw.example', '--subnet', '198.18.2.0/24', '--pool', '198.0.0.0/8'], /client address pool 198.0.0.0\/8 is too large: OpenVPN hands out at most a \/16/],
    [['--host', 'gw.example', '--subnet', '198.18.2.0/24', '--dns', '198.18.2.999'], /--dns "198.18.2.999" is not an IPv4 address/],
    [['--host', 'gw.example', '--subnet', '198.18.2.0/24', '--key-type', 'dsa'], /--key-type "dsa" must be one of ec, rsa2048, rsa3072/],
    [['--host', 'gw.example', '--subnet', '198.18.2.0/24', '--compress', '--no-compress'], /contradict/],
    [['--host', 'gw.example', '--bogus'], /Unknown option '--bogus'/],
    [['--host', 'gw.example', ...['1', '2', '3', '4', '5', '6'].flatMap((n) => ['--subnet', `198.18.${n}.0/24`])], /6 local subnets given; at most 5/],
  ])('refuses %j with exit 2, one clear line, and creates nothing', async (args, message) => {
    const dir = path.join(await tempDir(), 'state');
    const result = await ferryServer(['init', '--dir', dir, ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses a second init and leaves the first intact', async () => {
    const dir = await initServer();
    const before = await snapshot(dir);
    const result = await ferryServer(['init', '--dir', dir, '--host', 'other', '--subnet', '198.18.3.0/24']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/already holds a Ferry server; change it with "ferry-server set"/);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('warns about compression risks', async () => {
    const dir = path.join(await tempDir(), 'state');
    const result = await ferryServer(['init', '--dir', dir, '--host', 'gw', '--subnet', '198.18.2.0/24', '--compress']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/warning: compression is on.*VORACLE/);
  });

  it('commands on a directory that was never initialised explain what to do', async () => {
    const dir = path.join(await tempDir(), 'nothing');
    const result = await ferryServer(['status', '--dir', dir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no Ferry server in .*run "ferry-server init/);
  });
});

describe('ferry-server set', () => {
  it('refuses invalid values and changes nothing', async () => {
    const dir = await initServer();
    const before = await snapshot(dir);
    for (const args of [['--port', '50000'], ['--pool', '198.18.2.0/24'], ['--max-clients', '1000'], ['--key-type', 'rsa2048']]) {
      const result = await ferryServer(['set', '--dir', dir, ...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/out of range|overlaps|fewer than|only be chosen at init/);
    }
    expect(await snapshot(dir)).toEqual(before);
  });

  it('freezes subnets and pool while accounts exist (seed 3.4.2.2)', async () => {
    const dir = await initServer();
    expect((await ferryServer(['client', 'add', '--dir', dir, 'alice'])).code).toBe(0);
    const before = await snapshot(dir);
    const pool = await ferryServer(['set', '--dir', dir, '--pool', '198.18.101.0/24']);
    expect(pool.code).toBe(2);
    expect(pool.stderr).toMatch(/cannot change pool while 1 client account\(s\) exist \(alice\)/);
    const subnet = await ferryServer(['set', '--dir', dir, '--subnet', '198.18.3.0/24']);
    expect(subnet.stderr).toMatch(/cannot change subnets/);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('lists the accounts whose bundle went stale, until they download it again', async () => {
    const dir = await initServer();
    await ferryServer(['client', 'add', '--dir', dir, 'alice', 'bob']);
    const result = await ferryServer(['set', '--dir', dir, '--proto', 'udp', '--max-clients', '50']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/updated proto, maxClients/);
    expect(result.stdout).toMatch(/must download their bundle again.*: alice, bob/);
    const out = path.join(await tempDir(), 'alice.zip');
    expect((await ferryServer(['client', 'bundle', '--dir', dir, 'alice', '--out', out])).code).toBe(0);
    const list = JSON.parse((await ferryServer(['client', 'list', '--dir', dir, '--json'])).stdout) as Array<{ account: string; bundleStale: boolean }>;
    expect(list.map((a) => [a.account, a.bundleStale])).toEqual([['alice', false], ['bob', true]]);
    const again = await ferryServer(['set', '--dir', dir, '--max-clients', '60']);
    expect(again.stdout).not.toMatch(/download their bundle/);
  });
});

describe('ferry-server client', () => {
  it('add: shows each password once and stores only a slow hash', async () => {
    const dir = await initServer();
    const result = await ferryServer(['client', 'add', '--dir', dir, 'alice', 'bob', '--json']);
    expect(result.code).toBe(0);
    const added = JSON.parse(result.stdout) as Array<{ account: string; password: string }>;
    expect(added.map((a) => a.account)).toEqual(['alice', 'bob']);
    for (const { password } of added) {
      expect(password).toMatch(/^[A-Za-z0-9]{20}$/);
      for (const [file] of Object.entries(await snapshot(dir))) {
        if (file.endsWith('/')) continue;
        expect(await readFile(path.join(dir, file), 'utf8'), file).not.toContain(password);
      }
    }
    const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { accounts: Array<{ passwordHash: string }> };
    expect(index.accounts[0]!.passwordHash).toMatch(/^scrypt\$32768\$8\$1\$/);
  });

  it('add: two-factor off issues certificates only', async () => {
    const dir = await initServer(['--no-two-factor']);
    const added = JSON.parse((await ferryServer(['client', 'add', '--dir', dir, 'carol', '--json'])).stdout) as Array<{ password?: string }>;
    expect(added[0]!.password).toBeUndefined();
    const passwd = await ferryServer(['client', 'passwd', '--dir', dir, 'carol']);
    expect(passwd.code).toBe(2);
    expect(passwd.stderr).toMatch(/two-factor authentication is off/);
    const on = await ferryServer(['set', '--dir', dir, '--two-factor']);
    expect(on.stderr).toMatch(/these accounts have no password yet, give each one with "ferry-server client passwd ACCOUNT": carol/);
    expect((await ferryServer(['client', 'passwd', '--dir', dir, 'carol'])).stdout).toMatch(/^carol\tpassword: [A-Za-z0-9]{20}$/m);
  });

  it.each([
    [['add', 'bad name'], /account name "bad name" is not allowed/],
    [['add', '-lead'], /Unknown option|not allowed/],
    [['add', 'x'.repeat(65)], /is not allowed: use 1-64/],
    [['add', 'dave', 'Dave'], /account "Dave" is listed twice/],
    [['add', 'zoe', 'alice'], /account "alice" already exists/],
    [['add', 'ALICE'], /account "alice" already exists/],
    [['add'], /name at least one account/],
    [['passwd', 'nobody'], /no account "nobody"/],
    [['revoke', 'nobody'], /no account "nobody"/],
    [['bundle', 'alice', '--out', 'x.tar'], /must name a \.zip file/],
    [['bundle', 'alice'], /--out FILE.zip is required/],
    [['frobnicate'], /unknown client command "frobnicate"/],
  ])('refuses %j with exit 2 and changes nothing', async (args, message) => {
    const dir = await initServer();
    await ferryServer(['client', 'add', '--dir', dir, 'alice']);
    const before = await snapshot(dir);
    const result = await ferryServer(['client', ...args, '--dir', dir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('revoke: into the CRL once; the name can then be issued again with a new serial', async () => {
    const dir = await initServer();
    await ferryServer(['client', 'add', '--dir', dir, 'alice']);
    const crlBefore = await readFile(path.join(dir, 'pki/crl.pem'), 'utf8');
    const revoked = await ferryServer(['client', 'revoke', '--dir', dir, 'alice']);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/revoked alice: certificate added to the CRL; gateway not running/);
    expect(await readFile(path.join(dir, 'pki/crl.pem'), 'utf8')).not.toBe(crlBefore);
    const twice = await ferryServer(['client', 'revoke', '--dir', dir, 'alice']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/account "alice" is revoked/);
    const list = JSON.parse((await ferryServer(['client', 'list', '--dir', dir, '--json'])).stdout) as Array<{ state: string }>;
    expect(list[0]!.state).toBe('revoked');
    expect((await ferryServer(['client', 'add', '--dir', dir, 'alice'])).code).toBe(0);
    const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { accounts: Array<{ serial: string }>; revoked: Array<{ serial: string }> };
    expect(index.revoked).toHaveLength(1);
    expect(index.accounts[0]!.serial).not.toBe(index.revoked[0]!.serial);
    const { stdout } = await run('openssl', ['crl', '-in', path.join(dir, 'pki/crl.pem'), '-noout', '-text']);
    expect(stdout.toUpperCase().replace(/:/g, '')).toContain(index.revoked[0]!.serial.toUpperCase());
  });

  it('bundle: exactly the three files and an inline .ovpn, written 0600', async () => {
    const dir = await initServer();
    await ferryServer(['client', 'add', '--dir', dir, 'alice']);
    const out = path.join(await tempDir(), 'alice.zip');
    expect((await ferryServer(['client', 'bundle', '--dir', dir, 'alice', '--out', out])).code).toBe(0);
    const files = unzipSync(await readFile(out));
    expect(Object.keys(files).sort()).toEqual(['alice.ovpn', 'ca.crt', 'client.crt', 'client.key']);
    const ovpn = strFromU8(files['alice.ovpn']!);
    expect(ovpn).toMatch(/^client$/m);
    expect(ovpn).toMatch(/^remote 198\.18\.1\.1 1194$/m);
    expect(ovpn).toMatch(/^auth-user-pass$/m);
    expect(ovpn).toContain(strFromU8(files['client.key']!).trim());
    expect(ovpn).toContain(strFromU8(files['ca.crt']!).trim());
    expect((await snapshot(path.dirname(out)))['alice.zip']!.split(':')[0]).toBe('600');
  });

  it('20 concurrent `client add` commands yield 20 distinct valid certificates and serials', async () => {
    const dir = await initServer();
    const names = Array.from({ length: 20 }, (_, i) => `user${i}`);
    const results = await Promise.all(names.map((name) => ferryServer(['client', 'add', '--dir', dir, name])));
    expect(results.map((r) => r.code)).toEqual(names.map(() => 0));
    const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { accounts: Array<{ name: string; serial: string }> };
    expect(index.accounts.map((a) => a.name).sort()).toEqual([...names].sort());
    expect(new Set(index.accounts.map((a) => a.serial)).size).toBe(20);
    const certs = index.accounts.map((a) => path.join(dir, 'clients', `${a.serial}.crt`));
    const { stdout } = await run('openssl', ['verify', '-CAfile', path.join(dir, 'pki/ca.crt'), ...certs]);
    expect(stdout.match(/: OK/g)).toHaveLength(20);
  });

  it('a command killed half-way leaves a consistent state', async () => {
    const dir = await initServer();
    const names = Array.from({ length: 200 }, (_, i) => `bulk${i}`);
    const child = spawn(process.execPath, [FERRY_SERVER, 'client', 'add', '--dir', dir, ...names], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 700));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    // All or nothing: either every account was committed or none; referenced files all exist.
    const list = JSON.parse((await ferryServer(['client', 'list', '--dir', dir, '--json'])).stdout) as unknown[];
    expect([0, 200]).toContain(list.length);
    const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { accounts: Array<{ serial: string }> };
    const clients = path.join(dir, 'clients');
    const files = new Set(await readdir(clients));
    for (const a of index.accounts) expect(files.has(`${a.serial}.key`) && files.has(`${a.serial}.crt`)).toBe(true);
    // The next command works at once (the killed one's lock does not block it) and, once the
    // leftovers are old enough that no live command can own them, removes them.
    const old = new Date(Date.now() - 11 * 60_000);
    for (const f of files) await utimes(path.join(clients, f), old, old);
    const next = await ferryServer(['client', 'add', '--dir', dir, 'after']);
    expect(next.code, next.stderr).toBe(0);
    const after = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { accounts: Array<{ serial: string }> };
    const expected = after.accounts.flatMap((a) => [`${a.serial}.crt`, `${a.serial}.key`]).sort();
    expect((await readdir(clients)).sort()).toEqual(expected);
  });

  it('a damaged index is reported clearly, not crashed on', async () => {
    const dir = await initServer();
    await writeFile(path.join(dir, 'index.json'), '{"version":1,"accounts":"oops"');
    const result = await ferryServer(['client', 'add', '--dir', dir, 'alice']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/index.json is not valid JSON \(damaged\?\); restore it from a backup/);
  });
});

describe('ferry-server usage', () => {
  it('unknown commands and options exit 2', async () => {
    expect((await ferryServer(['launch'])).code).toBe(2);
    const opt = await ferryServer(['status', '--colour']);
    expect(opt.code).toBe(2);
    expect(opt.stderr).toMatch(/Unknown option '--colour'/);
    const help = await ferryServer(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/ferry-server client bundle ACCOUNT --out FILE.zip/);
  });
});
