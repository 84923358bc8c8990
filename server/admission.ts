/**
 * Who may connect: the decision ferry-server gives OpenVPN for every CLIENT:CONNECT and
 * CLIENT:REAUTH. Pure, so every rule is unit-tested without a gateway.
 */
import { verifyPassword } from './password.js';
import type { Settings } from './settings.js';
import { findAccount, type Index } from './store.js';

export type Admission =
  | { allow: true; account: string }
  /** `reason` goes to the gateway's log; `clientReason` is sent to the client (AUTH_FAILED,…). */
  | { allow: false; reason: string; clientReason: string };

export interface AdmissionRequest {
  /** The CLIENT:ENV block of the request. */
  env: ReadonlyMap<string, string>;
  settings: Settings;
  index: Index;
  /** Accounts with an established session, other than this client's own. */
  otherConnectedAccounts: ReadonlySet<string>;
}

/**
 * A certificate serial as one spelling: openvpn's tls_serial_hex_0 is colon-separated
 * octets with leading zeros ("00:1a:2b"); ours are plain lower-case hex.
 */
export function canonicalSerial(serial: string): string {
  return serial.replace(/:/g, '').toLowerCase().replace(/^0+/, '');
}

export async function decideAdmission(req: AdmissionRequest): Promise<Admission> {
  const cn = req.env.get('common_name') ?? req.env.get('X509_0_CN') ?? '';
  const deny = (reason: string, clientReason: string): Admission => ({ allow: false, reason: `${cn || '(no name)'}: ${reason}`, clientReason });
  const account = findAccount(req.index, cn);
  if (!account || account.name !== cn) return deny('no such account', 'unknown account: ask your administrator for a new certificate');
  if (account.state !== 'active') return deny('account revoked', 'certificate revoked: ask your administrator for a new one');
  // A revoked-then-re-added account keeps its name; only the current certificate counts.
  // openvpn always passes the verified client certificate's serial; without it no check
  // of which certificate this is can be made, so fail closed.
  const serial = canonicalSerial(req.env.get('tls_serial_hex_0') ?? '');
  if (!serial) return deny('no certificate serial from openvpn', 'certificate not recognised: ask your administrator');
  if (serial !== canonicalSerial(account.serial)) {
    return deny('certificate superseded', 'certificate replaced: download your new bundle');
  }
  if (req.otherConnectedAccounts.size >= req.settings.maxClients && !req.otherConnectedAccounts.has(account.name)) {
    return deny(`connection limit of ${req.settings.maxClients} reached`, `connection limit reached (${req.settings.maxClients} clients)`);
  }
  if (req.settings.twoFactor) {
    // With auth-gen-token, a client presenting a valid token is marked Authenticated by OpenVPN.
    const session = req.env.get('session_state');
    if (session === 'Authenticated') return { allow: true, account: account.name };
    if (session === 'Expired' || session === 'Invalid') return deny(`session token ${session.toLowerCase()}`, 'session expired: log in again');
    const username = req.env.get('username') ?? '';
    const password = req.env.get('password') ?? '';
    if (!password) return deny('no password given', 'password required: this server uses two-factor login');
    if (username && username !== account.name) {
      return deny(`username "${username}" does not match the certificate`, 'username does not match your certificate');
    }
    if (!account.passwordHash || !(await verifyPassword(password, account.passwordHash))) {
      return deny('wrong password', 'wrong password');
    }
  }
  return { allow: true, account: account.name };
}
