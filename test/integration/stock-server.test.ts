/**
 * The stock-server fixtures themselves work: easy-rsa PKIs (RSA and EC), a hand-written
 * server config, and the three password schemes (verify script, static challenge with TOTP,
 * dynamic CRV1 challenge), each driven by a stock openvpn client. Tests for the Ferry client
 * build on these, so a failure here means the fixture is wrong, not Ferry.
 */
import { readFile } from 'node:fs/promises';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { tempDir } from '../support/cli.js';
import { AUTH_FAILED, CONNECTED, startOpenvpnClient, type Watched } from '../support/processes.js';
import {
  crv1Response,
  makeEasyRsaPki,
  makeTlsCryptKey,
  parseCrv1,
  scrv1,
  startStockServer,
  writeClientConfig,
  type EasyRsaPki,
  type StockServer,
} from '../support/stock-server.js';
import path from 'node:path';

describe.skipIf(labSkipReason())('stock OpenVPN servers (easy-rsa PKI, hand-written config)', () => {
  let lab: Lab;
  let rsa: EasyRsaPki;
  let ec: EasyRsaPki;

  beforeAll(async () => {
    lab = await createLab();
    [rsa, ec] = await Promise.all([
      makeEasyRsaPki(await tempDir('ferry-easyrsa-rsa-'), { algo: 'rsa', clients: ['alice'] }),
      makeEasyRsaPki(await tempDir('ferry-easyrsa-ec-'), { algo: 'ec', clients: ['alice', 'bob'] }),
    ]);
  });

  afterAll(async () => {
    await lab?.teardown();
  });

  /** A stock client for `name` of `pki`; `--auth-retry none` makes it exit on AUTH_FAILED. */
  async function stockClient(server: StockServer, pki: EasyRsaPki, opts: { name?: string; credentials?: [string, string]; tlsCrypt?: string } = {}): Promise<Watched> {
    const config = await writeClientConfig(await tempDir('ferry-stock-client-'), {
      lab,
      pki,
      client: opts.name ?? 'alice',
      server,
      ...(opts.tlsCrypt ? { tlsCrypt: opts.tlsCrypt } : {}),
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
    });
    return startOpenvpnClient(lab, config);
  }

  /** Connected or refused, whichever the client logs first. */
  function outcome(client: Watched): Promise<string> {
    return client.waitForAny({ connected: CONNECTED, refused: AUTH_FAILED });
  }

  /** Runs a client to its outcome and stops it; returns the outcome and the client (for its log). */
  async function attempt(server: StockServer, pki: EasyRsaPki, credentials: [string, string]): Promise<{ result: string; client: Watched }> {
    const client = await stockClient(server, pki, { credentials });
    try {
      const result = await outcome(client);
      if (result === 'refused') await client.exited; // --auth-retry none: it gives up by itself
      return { result, client };
    } finally {
      await client.stop();
    }
  }

  /** A stock client connects and pings the vpc host through its tunnel; stopped either way. */
  async function connectsAndReachesVpc(server: StockServer, pki: EasyRsaPki, opts: Parameters<typeof stockClient>[2] = {}): Promise<void> {
    const client = await stockClient(server, pki, opts);
    try {
      expect(await outcome(client)).toBe('connected');
      expect(await lab.ping('client', lab.addr.vpcHost, 3)).toBe(true);
    } finally {
      await client.stop();
    }
  }

  async function verifyLog(server: StockServer): Promise<string[]> {
    return (await readFile(server.verifyLog!, 'utf8')).split('\n').filter(Boolean);
  }

  describe('certificate only', () => {
    it('RSA PKI over UDP: connects and reaches the vpc host', async () => {
      const stock = await startStockServer(lab, { pki: rsa, proto: 'udp' });
      try {
        await connectsAndReachesVpc(stock, rsa);
      } finally {
        await stock.stop();
      }
    });

    it('EC (P-256) PKI over TCP with tls-crypt: connects and reaches the vpc host', async () => {
      const tlsCrypt = await makeTlsCryptKey(path.join(await tempDir('ferry-tls-crypt-'), 'tc.key'));
      const stock = await startStockServer(lab, { pki: ec, proto: 'tcp', tlsCrypt, keepalive: [1, 4] });
      try {
        await connectsAndReachesVpc(stock, ec, { tlsCrypt });
      } finally {
        await stock.stop();
      }
    });
  });

  describe('password (auth-user-pass-verify script)', () => {
    let stock: StockServer;
    beforeAll(async () => {
      stock = await startStockServer(lab, { pki: ec, proto: 'tcp', auth: { kind: 'password', users: { alice: 'correct horse', bob: 'battery staple' } } });
    });
    afterAll(async () => {
      await stock?.stop();
    });

    it('the right password connects', async () => {
      await connectsAndReachesVpc(stock, ec, { credentials: ['alice', 'correct horse'] });
      expect(await verifyLog(stock)).toContain('user alice: password ok');
    });

    it('a wrong password gets AUTH_FAILED', async () => {
      const { result } = await attempt(stock, ec, ['bob', 'correct horse']);
      expect(result).toBe('refused');
      expect(await verifyLog(stock)).toContain('user bob: password wrong');
    });
  });

  describe('static challenge (SCRV1 password + TOTP)', () => {
    const secret = new Secret().base32;
    const totp = new TOTP({ secret: Secret.fromBase32(secret) });
    let stock: StockServer;

    /** A six-digit code the server must refuse: none of the codes its ±1 step window accepts. */
    function wrongCode(): string {
      const now = Date.now();
      const valid = new Set([-1, 0, 1].map((step) => totp.generate({ timestamp: now + step * 30_000 })));
      for (let n = 0; ; n++) {
        const code = String(n).padStart(6, '0');
        if (!valid.has(code)) return code;
      }
    }

    beforeAll(async () => {
      stock = await startStockServer(lab, { pki: ec, proto: 'udp', auth: { kind: 'static-otp', users: { alice: { password: 'pw-alice', totpSecret: secret } } } });
    });
    afterAll(async () => {
      await stock?.stop();
    });

    it('password + current code connects, and the script checked both', async () => {
      await connectsAndReachesVpc(stock, ec, { credentials: ['alice', scrv1('pw-alice', totp.generate())] });
      expect(await verifyLog(stock)).toContain('user alice: password ok, otp ok');
    });

    it('a wrong code is refused', async () => {
      expect((await attempt(stock, ec, ['alice', scrv1('pw-alice', wrongCode())])).result).toBe('refused');
      expect(await verifyLog(stock)).toContain('user alice: password ok, otp wrong');
    });

    it('a wrong password with a right code is refused', async () => {
      expect((await attempt(stock, ec, ['alice', scrv1('pw-bob', totp.generate())])).result).toBe('refused');
      expect(await verifyLog(stock)).toContain('user alice: password wrong, otp ok');
    });

    it('a plain password (no SCRV1) is refused', async () => {
      expect((await attempt(stock, ec, ['alice', 'pw-alice'])).result).toBe('refused');
    });
  });

  describe('dynamic challenge (CRV1)', () => {
    const challengeText = 'Enter the code from the letter';
    let stock: StockServer;

    beforeAll(async () => {
      stock = await startStockServer(lab, {
        pki: ec,
        proto: 'tcp',
        auth: { kind: 'crv1', users: { alice: 'pw-alice' }, challengeText, expectedResponse: '8675309' },
      });
    });
    afterAll(async () => {
      await stock?.stop();
    });

    /** First login with the right password: refused with a challenge, which the client logs. */
    async function challenge() {
      const { result, client } = await attempt(stock, ec, ['alice', 'pw-alice']);
      expect(result).toBe('refused');
      const line = await client.waitFor(/AUTH_FAILED,CRV1:R,E:/);
      const parsed = parseCrv1(line);
      expect(parsed).toMatchObject({ flags: ['R', 'E'], username: 'alice', challengeText });
      return parsed!;
    }

    it('the right password is answered with CRV1:R,E:…, and the right response connects', async () => {
      const { stateId, username } = await challenge();
      await connectsAndReachesVpc(stock, ec, { credentials: [username, crv1Response(stateId, '8675309')] });
      expect(await verifyLog(stock)).toContain(`user alice: crv1 state ${stateId} ok, response ok`);
    });

    it('a wrong response is refused, and the state id cannot be tried again', async () => {
      const { stateId, username } = await challenge();
      expect((await attempt(stock, ec, [username, crv1Response(stateId, '0000000')])).result).toBe('refused');
      expect((await attempt(stock, ec, [username, crv1Response(stateId, '8675309')])).result).toBe('refused');
      expect(await verifyLog(stock)).toEqual(expect.arrayContaining([`user alice: crv1 state ${stateId} ok, response wrong`, `user alice: crv1 state ${stateId} unknown`]));
    });

    it('a state id the server never issued is refused', async () => {
      expect((await attempt(stock, ec, ['alice', crv1Response('0123456789abcdef0123456789abcdef', '8675309')])).result).toBe('refused');
    });

    it('a wrong password gets a plain AUTH_FAILED, no challenge', async () => {
      const { result, client } = await attempt(stock, ec, ['alice', 'not-it']);
      expect(result).toBe('refused');
      expect(client.lines.join('\n')).not.toMatch(/CRV1/);
    });
  });
});
