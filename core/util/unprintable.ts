/**
 * The one definition of the characters text from outside (a file, a certificate, a
 * command line) may not bring to a terminal, a screen or an openvpn config line:
 * - C0 controls and DEL: line breaks start a config directive of their own; ESC drives the terminal;
 * - C1 controls (U+0080-U+009F): U+009B is a one-byte CSI to some terminals, U+0085 a line break;
 * - U+2028/U+2029, line and paragraph separators to other readers of the text;
 * - bidi controls (U+200E/F, U+061C, U+202A-U+202E, U+2066-U+2069), which reorder what is
 *   shown: "evil\u202Egnp.exe" reads as "evilexe.png".
 * Used by messages (profile/pem.ts), names and usernames (profile/schema.ts, import.ts),
 * certificate subjects as shown, and config text (engine/quote.ts). No Node imports: the
 * renderer type-checks the profile schemas.
 */
const CLASS = '\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069';
const ANY = new RegExp(`[${CLASS}]`);
const EVERY = new RegExp(`[${CLASS}]`, 'g');

export function hasUnprintable(text: string): boolean {
  return ANY.test(text);
}

/** `text` with each such character replaced by `by`. */
export function replaceUnprintable(text: string, by = '?'): string {
  return text.replace(EVERY, by);
}
