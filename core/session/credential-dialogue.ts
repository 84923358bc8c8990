/**
 * The credential dialogue between openvpn, the session and a CredentialProvider.
 *
 * openvpn asks (`Need 'Auth'`, `Need 'Private Key'`, a CR_TEXT challenge); the session asks
 * the provider, which may take minutes (a person typing) and answers later as an event.
 * Sometimes the session asks *before* openvpn does: after a rejected password or a CRV1
 * challenge the next `Need 'Auth'` is certain, and the person should see the dialog at
 * once. `AuthDialogue` is the little state that meets the two halves: an answer waiting
 * for openvpn's question, or openvpn waiting for the answer. Pure data; the one impure
 * part, `askProvider`, turns a question into the answer event.
 */
import { quoteArg } from '../management/connection.js';
import type { AuthAnswer, CredentialProvider } from './credentials.js';
import { failure, type Failure } from './failures.js';

export type Question =
  /** `expired`: a re-login after the gateway refused the session token (not a wrong password). */
  | { kind: 'auth'; rejected?: string; expired?: true; staticChallenge?: { text: string; echo: boolean } }
  /** A CRV1 dynamic challenge: its response goes back as the next 'Auth' password. */
  | { kind: 'crv1'; text: string; echo: boolean; stateId: string; username: string }
  /** An auth-pending CR_TEXT challenge: answered with `cr-response`. */
  | { kind: 'cr'; text: string; echo: boolean }
  | { kind: 'passphrase'; rejected: boolean };

/** What came back from the provider, as the session machine's events. */
export type Answer =
  /** `refusal`: the failure to end with when nobody answered (else the dialogue's own). */
  | { kind: 'auth-answer'; answer: AuthAnswer | undefined; refusal?: Failure }
  | { kind: 'cr-answer'; text: string; response: string | undefined }
  | { kind: 'passphrase-answer'; rejected: boolean; passphrase: string | undefined };

export interface AuthDialogue {
  /** An 'Auth' question is with the provider. */
  asking: boolean;
  /** openvpn sent `Need 'Auth'` and waits for username and password. */
  openvpnWaiting: boolean;
  /** An answer that came before openvpn asked. Secret: in memory only, never in a snapshot. */
  ready?: AuthAnswer;
  /** Why the session ends if the outstanding question gets no answer (a rejected password). */
  refusal?: Failure;
  /** The gateway refused the session token: openvpn's next 'Auth' question is a re-login. */
  relogin?: boolean;
}

export const newAuthDialogue = (): AuthDialogue => ({ asking: false, openvpnWaiting: false });

/** The management commands that answer `Need 'Auth'`. */
export const authCommands = (answer: AuthAnswer): string[] => [`username "Auth" ${quoteArg(answer.username)}`, `password "Auth" ${quoteArg(answer.password)}`];

export const passphraseCommand = (passphrase: string): string => `password "Private Key" ${quoteArg(passphrase)}`;

export const crResponseCommand = (response: string): string => `cr-response ${Buffer.from(response, 'utf8').toString('base64')}`;

/** openvpn said `Need 'Auth'`: answer now, wait for the answer under way, or ask. */
export function onNeedAuth(d: AuthDialogue, staticChallenge: { text: string; echo: boolean } | undefined): { dialogue: AuthDialogue; send?: AuthAnswer; ask?: Question } {
  if (d.ready) return { dialogue: { ...d, ready: undefined, openvpnWaiting: false, refusal: undefined }, send: d.ready };
  if (d.asking) return { dialogue: { ...d, openvpnWaiting: true } };
  // Not asked ahead like a rejected password: only openvpn's question carries the static
  // challenge, which the re-login must answer with a fresh code.
  const expired = d.relogin ? { expired: true as const } : {};
  return { dialogue: { ...d, asking: true, openvpnWaiting: true, relogin: false }, ask: { kind: 'auth', ...expired, ...(staticChallenge ? { staticChallenge } : {}) } };
}

/** The session token was refused: the next 'Auth' question is a re-login; `refusal` if nobody answers it. */
export function expectRelogin(d: AuthDialogue, refusal: Failure): AuthDialogue {
  return { ...d, ready: undefined, relogin: true, refusal };
}

/** Asking ahead of openvpn (a rejected password, a CRV1 challenge). */
export function askAhead(d: AuthDialogue, refusal?: Failure): AuthDialogue {
  return { ...d, asking: true, ready: undefined, ...(refusal ? { refusal } : {}) };
}

/** The provider answered an 'Auth' question: send it if openvpn waits, else keep it; none = the failure to end with. */
export function onAuthAnswer(d: AuthDialogue, answer: AuthAnswer | undefined, refusal: Failure | undefined, profile: string): { dialogue: AuthDialogue; send?: AuthAnswer; fail?: Failure } {
  const asked = { ...d, asking: false };
  if (!answer) return { dialogue: { ...asked, refusal: undefined }, fail: refusal ?? d.refusal ?? failure('credentials-unavailable', 'password-missing', { profile }) };
  if (d.openvpnWaiting) return { dialogue: { ...asked, openvpnWaiting: false, refusal: undefined }, send: answer };
  return { dialogue: { ...asked, ready: answer } };
}

/** Puts the question to the provider; resolves with the answer event (a provider that throws answered nothing). */
export async function askProvider(provider: CredentialProvider, q: Question): Promise<Answer> {
  switch (q.kind) {
    case 'auth':
      return { kind: 'auth-answer', answer: await provider.auth({ ...(q.rejected !== undefined ? { rejected: q.rejected } : {}), ...(q.expired ? { expired: true } : {}), ...(q.staticChallenge ? { staticChallenge: q.staticChallenge } : {}) }) };
    case 'crv1': {
      const response = await provider.challenge({ text: q.text, echo: q.echo });
      return response !== undefined
        ? { kind: 'auth-answer', answer: { username: q.username, password: `CRV1::${q.stateId}::${response}` } }
        : { kind: 'auth-answer', answer: undefined, refusal: failure('credentials-unavailable', 'challenge-unanswered', { text: q.text }) };
    }
    case 'cr':
      return { kind: 'cr-answer', text: q.text, response: await provider.challenge({ text: q.text, echo: q.echo }) };
    case 'passphrase':
      return { kind: 'passphrase-answer', rejected: q.rejected, passphrase: await provider.keyPassphrase({ rejected: q.rejected }) };
  }
}

/** The answer event for a question whose provider failed (threw): nobody answered. */
export function noAnswer(q: Question): Answer {
  switch (q.kind) {
    case 'auth':
      return { kind: 'auth-answer', answer: undefined };
    case 'crv1':
      return { kind: 'auth-answer', answer: undefined, refusal: failure('credentials-unavailable', 'challenge-unanswered', { text: q.text }) };
    case 'cr':
      return { kind: 'cr-answer', text: q.text, response: undefined };
    case 'passphrase':
      return { kind: 'passphrase-answer', rejected: q.rejected, passphrase: undefined };
  }
}
