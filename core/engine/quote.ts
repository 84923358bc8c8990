/**
 * How a value is written into an openvpn config file: the one place that does it, for
 * the client builder (core/engine/config.ts, which ferry-helper also runs as root on a
 * local user's request) and the gateway's (server/openvpn-config.ts).
 *
 * What openvpn 2.6 does with the text (src/openvpn/options.c, options.h):
 * - read_config_file() reads each line with fgets() into OPTION_LINE_SIZE + 1 bytes and
 *   stops with "Maximum option line length (256) exceeded" once strlen — the newline
 *   included — reaches OPTION_LINE_SIZE (256). A line's text is therefore at most 254
 *   bytes (checked against openvpn 2.6.14: 254 loads, 255 is refused).
 * - parse_line() splits on whitespace; inside "double quotes" a backslash escapes the next
 *   character, and only \, " or whitespace may follow it. A newline always ends the line,
 *   so a value holding one would start a directive of its own: values may hold no control
 *   characters at all, and we refuse the C1 range, U+2028/2029 (line breaks to other
 *   readers of the text) and bidi controls too, never needed in a VPN setting: the shared
 *   class of core/util/unprintable.ts.
 */
import { FerryError } from '../util/errors.js';
import { hasUnprintable } from '../util/unprintable.js';

/** openvpn's src/openvpn/options.h. */
export const OPTION_LINE_SIZE = 256;
/** Bytes of text a config line may hold: fgets' buffer minus the newline and the byte strlen may not reach. */
export const MAX_LINE_BYTES = OPTION_LINE_SIZE - 2;

const utf8 = new TextEncoder();

/** (TextEncoder rather than Buffer: the profile schemas use this, and the renderer type-checks them.) */
export function utf8Bytes(value: string): number {
  return utf8.encode(value).length;
}

/**
 * `"value"` with \ and " escaped: parse_line reads it back as one parameter, whatever
 * spaces, quotes, '#' or ';' it holds. Control characters are configText's to refuse
 * (after the schemas, which name the field).
 */
export function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Bytes `value` takes on a config line once quoted. */
export function quotedBytes(value: string): number {
  return utf8Bytes(quote(value));
}

/** Bytes left for a value on a line written as `${before}VALUE${after}`. */
export function lineBudget(before: string, after = ''): number {
  return MAX_LINE_BYTES - utf8Bytes(before) - utf8Bytes(after);
}

/**
 * The config file's text from its lines, refusing any line openvpn would refuse or split:
 * the last guard behind the schemas, so that no field ever yields a line over the limit.
 * `what` names the config in the error, `fix` says what to do.
 */
export function configText(lines: string[], what: string, fix = 'shorten its value'): string {
  lines.forEach((line, i) => {
    const directive = line.split(' ', 1)[0];
    if (hasUnprintable(line)) throw new FerryError(`${what}: line ${i + 1} ("${directive}") contains a control character; remove it`);
    const bytes = utf8Bytes(line);
    if (bytes > MAX_LINE_BYTES) {
      throw new FerryError(`${what}: line ${i + 1} ("${directive}") is ${bytes} bytes, over openvpn's limit of ${MAX_LINE_BYTES}; ${fix}`);
    }
  });
  return lines.join('\n');
}

