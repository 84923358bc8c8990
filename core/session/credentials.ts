/**
 * Where a session's secrets come from, in order: what the caller handed over for this
 * connect (piped password and one-time code), the OS keychain, then a person (the Prompter:
 * the CLI's terminal or the desktop's dialog). Secrets stay in this object's memory for
 * the session only, so a soft restart without a server token is answered without asking.
 */
import { HOTP, Secret, TOTP } from 'otpauth';
import type { Profile } from '../profile/schema.js';
import { KeychainUnavailableError, type SecretStore } from '../secrets/secret-store.js';
import { message, type Message } from './messages.js';

export interface PasswordRequest {
  profile: string;
  username: string;
  /** Set when the server rejected the previous password: what it said. */
  rejected?: string;
  /** A re-login: the gateway refused the session token (expired, another node), not the password. */
  expired?: boolean;
}

export interface ChallengeRequest {
  profile: string;
  text: string;
  echo: boolean;
}

/**
 * What a person answered: the value, and for a password whether to remember it (the
 * login dialog's tick box; saved only once the gateway accepts it). Undefined `remember`
 * keeps what the connect asked for (`--save-password`).
 */
export interface PromptAnswer {
  value: string;
  remember?: boolean;
}

/** The person at the other end. Resolving undefined means nobody can answer (the session fails with that). */
export interface Prompter {
  password(req: PasswordRequest): Promise<PromptAnswer | undefined>;
  /** The OTP code for a static challenge when no OTP secret is saved. */
  otp(req: ChallengeRequest): Promise<PromptAnswer | undefined>;
  /** A server-side challenge (CRV1 or auth-pending CR_TEXT). */
  challenge(req: ChallengeRequest): Promise<PromptAnswer | undefined>;
  keyPassphrase(req: { profile: string }): Promise<PromptAnswer | undefined>;
}

export interface AuthAnswer {
  username: string;
  password: string;
}

/** What the session asks; implemented by SessionCredentials (and by fakes in unit tests). */
export interface CredentialProvider {
  /** Username and password for `Need 'Auth'`, the static-challenge response already folded in. */
  auth(req: { rejected?: string; expired?: boolean; staticChallenge?: { text: string; echo: boolean } }): Promise<AuthAnswer | undefined>;
  challenge(req: { text: string; echo: boolean }): Promise<string | undefined>;
  keyPassphrase(req: { rejected: boolean }): Promise<string | undefined>;
  /** The server accepted the credentials: save what the person asked to save. */
  accepted(): Promise<void>;
}

export interface SessionCredentialOptions {
  /** A password handed over for this connect (e.g. `--password-stdin`). */
  password?: string;
  /** A one-time code handed over for this connect (`--otp-stdin`). Used once. */
  otp?: string;
  /** Save the password in the keychain once the server has accepted it. */
  savePassword?: boolean;
  /** Told about things worth a line (keychain unreachable, password saved), as codes. */
  notice?: (notice: Message) => void;
  /** HOTP: persist the next counter value (the profile store's update). */
  saveHotpCounter?: (next: number) => Promise<void>;
}

export class SessionCredentials implements CredentialProvider {
  private password: string | undefined;
  private passwordSource: 'given' | 'keychain' | 'typed' | undefined;
  private otpCode: string | undefined;
  private keychainWarned = false;
  /** Whether to save the password once accepted: the connect's choice, then the person's answer. */
  private savePassword: boolean;

  constructor(
    private readonly profile: Profile,
    private readonly secrets: SecretStore,
    private readonly prompter: Prompter,
    private readonly opts: SessionCredentialOptions = {},
  ) {
    if (opts.password !== undefined) {
      this.password = opts.password;
      this.passwordSource = 'given';
    }
    this.otpCode = opts.otp;
    this.savePassword = opts.savePassword ?? false;
  }

  get username(): string {
    return this.profile.username ?? '';
  }

  /** A re-login (`expired`) takes the password at hand like a first login: only a rejection asks anew. */
  async auth(req: { rejected?: string; expired?: boolean; staticChallenge?: { text: string; echo: boolean } }): Promise<AuthAnswer | undefined> {
    if (req.rejected !== undefined || this.password === undefined) {
      // A rejected password is never deleted from the keychain here: the failure may be
      // the server's (e.g. its password store), and the person decides by typing a new one.
      const saved = req.rejected === undefined ? await this.fromKeychain('password') : undefined;
      if (saved !== undefined) {
        this.password = saved;
        this.passwordSource = 'keychain';
      } else {
        const why = req.rejected !== undefined ? { rejected: req.rejected } : req.expired ? { expired: true } : {};
        const typed = await this.prompter.password({ profile: this.profile.name, username: this.username, ...why });
        if (typed === undefined) return undefined;
        this.password = typed.value;
        this.passwordSource = 'typed';
        if (typed.remember !== undefined) this.savePassword = typed.remember;
      }
    }
    if (!req.staticChallenge) return { username: this.username, password: this.password };
    const code = await this.oneTimeCode(req.staticChallenge);
    if (code === undefined) return undefined;
    // management-notes "static challenge": SCRV1:<base64 password>:<base64 response>
    const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
    return { username: this.username, password: `SCRV1:${b64(this.password)}:${b64(code)}` };
  }

  async challenge(req: { text: string; echo: boolean }): Promise<string | undefined> {
    if (this.otpCode !== undefined) return this.takeOtpCode();
    return (await this.prompter.challenge({ profile: this.profile.name, ...req }))?.value;
  }

  async keyPassphrase(req: { rejected: boolean }): Promise<string | undefined> {
    if (!req.rejected) {
      const saved = await this.fromKeychain('key-passphrase');
      if (saved !== undefined) return saved;
    }
    return (await this.prompter.keyPassphrase({ profile: this.profile.name }))?.value;
  }

  async accepted(): Promise<void> {
    if (!this.savePassword || this.password === undefined || this.passwordSource === 'keychain') return;
    try {
      await this.secrets.set(this.profile.id, 'password', this.password);
      this.passwordSource = 'keychain';
      this.opts.notice?.(message('password-saved'));
    } catch (err) {
      this.warnKeychain(err);
    }
  }

  /** The static-challenge response: the given code once, else generated from the keychain's OTP secret, else asked. */
  private async oneTimeCode(challenge: { text: string; echo: boolean }): Promise<string | undefined> {
    if (this.otpCode !== undefined) return this.takeOtpCode();
    const { otp } = this.profile;
    if (otp.kind !== 'none') {
      const secret = await this.fromKeychain('otp-secret');
      if (secret !== undefined) {
        const options = { secret: Secret.fromBase32(secret.replace(/\s+/g, '').toUpperCase()), algorithm: otp.algorithm, digits: otp.digits };
        if (otp.kind === 'totp') return new TOTP({ ...options, period: otp.period }).generate();
        const code = new HOTP({ ...options, counter: otp.counter }).generate();
        await this.opts.saveHotpCounter?.(otp.counter + 1);
        otp.counter += 1;
        return code;
      }
    }
    return (await this.prompter.otp({ profile: this.profile.name, ...challenge }))?.value;
  }

  private takeOtpCode(): string | undefined {
    const code = this.otpCode;
    this.otpCode = undefined;
    return code;
  }

  private async fromKeychain(kind: 'password' | 'otp-secret' | 'key-passphrase'): Promise<string | undefined> {
    try {
      return await this.secrets.get(this.profile.id, kind);
    } catch (err) {
      this.warnKeychain(err);
      return undefined;
    }
  }

  private warnKeychain(err: unknown): void {
    if (this.keychainWarned) return;
    this.keychainWarned = true;
    this.opts.notice?.(err instanceof KeychainUnavailableError ? message('keychain-unavailable', { error: err.detail }) : message('keychain-failed', { error: (err as Error).message }));
  }
}
