/**
 * How a kept openvpn option's arguments are described and checked: one small vocabulary
 * for the option table (option-policy.ts), which the importer, the profile schema and the
 * privileged helper all check against. Each argument is a bounded word (written back bare)
 * or bounded free text (written back quoted); nothing here ever holds a control character,
 * so no value can end its line and start a directive of its own.
 */
import { quote, utf8Bytes } from '../engine/quote.js';
import { hasUnprintable } from '../util/unprintable.js';

export interface Param {
  /** How the manual names it, for the docs and for messages. */
  name: string;
  /** Is this value acceptable? (Control characters are refused before this is asked.) */
  accepts: (value: string) => boolean;
}

export interface ArgSpec {
  params: Param[];
  /** How many of `params` must be given (the rest are optional, in order). */
  required: number;
  /** Repeated trailing argument, with its own bound on how many. */
  rest?: { param: Param; max: number };
  /** A check across arguments (openvpn's own), or why a value is refused. */
  check?: (args: string[]) => string | undefined;
}

/** openvpn's MAX_PARMS (src/openvpn/options.h): a directive and at most 15 arguments. */
export const MAX_ARGS = 15;

/** openvpn reads integers with atoi(): we take plain digits only, so that what we write back means the same. */
export function int(name: string, min: number, max: number): Param {
  return { name, accepts: (v) => /^\d{1,10}$/.test(v) && Number(v) >= min && Number(v) <= max };
}

/** INT_MAX: the bound of openvpn's positive_atoi() fields. */
export const INT_MAX = 2_147_483_647;
export const count = (name: string) => int(name, 0, INT_MAX);

export function oneOf(name: string, ...values: string[]): Param {
  return { name: `${name} (${values.join('|')})`, accepts: (v) => values.includes(v) };
}

export function word(name: string, pattern: RegExp, maxLength: number): Param {
  return { name, accepts: (v) => v.length <= maxLength && pattern.test(v) };
}

/** Any printable text up to `maxBytes`; written quoted. */
export function text(name: string, maxBytes: number): Param {
  return { name, accepts: (v) => utf8Bytes(v) <= maxBytes };
}

/** Positional arguments: the first `required` must be there. */
export function args(required: number, ...params: Param[]): ArgSpec {
  return { params, required };
}

export const NO_ARGS: ArgSpec = args(0);

export function withRest(spec: ArgSpec, param: Param, max: number): ArgSpec {
  return { ...spec, rest: { param, max } };
}

export function withCheck(spec: ArgSpec, check: (args: string[]) => string | undefined): ArgSpec {
  return { ...spec, check };
}

/** The manual-style syntax line: `name a [b] [c ...]`. */
export function syntax(name: string, spec: ArgSpec): string {
  const parts = spec.params.map((p, i) => (i < spec.required ? p.name : `[${p.name}]`));
  if (spec.rest) parts.push(`[${spec.rest.param.name} ...]`);
  return [name, ...parts].join(' ');
}

/** Why `values` do not fit `spec`, or undefined when they do. */
export function checkArgs(spec: ArgSpec, values: readonly string[]): string | undefined {
  const max = spec.params.length + (spec.rest?.max ?? 0);
  if (values.length < spec.required || values.length > Math.min(max, MAX_ARGS)) {
    return spec.required === max ? `takes ${max === 0 ? 'no' : max} argument${max === 1 ? '' : 's'}` : `takes ${spec.required} to ${max} arguments`;
  }
  for (const [i, value] of values.entries()) {
    const param = spec.params[i] ?? spec.rest!.param;
    if (hasUnprintable(value)) return `${param.name} cannot contain control characters`;
    if (!param.accepts(value)) return `${param.name} is not valid here`;
  }
  return spec.check?.([...values]);
}

/** Words openvpn reads back unchanged without quotes. Anything else is quoted (quote() escapes \ and "). */
const BARE = /^[A-Za-z0-9._:/+=@,?!*%-]+$/;

/** A kept directive as Ferry writes it into the config. */
export function directiveLine(name: string, values: readonly string[]): string {
  return [name, ...values.map((v) => (BARE.test(v) ? v : quote(v)))].join(' ');
}
