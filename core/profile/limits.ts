/** Bounds of a stored profile that code outside the schema needs too, in a module that loads nothing. */

/** The longest profile id; the runtime dir is sized for sockets named after it (core/paths.ts). */
export const PROFILE_ID_MAX = 41;

/**
 * Kept options per profile: room for long route lists (a few hundred is common), while the
 * helper's request (256 KiB, certificates included) still holds them all.
 */
export const MAX_DIRECTIVES = 2000;
export const MAX_DIRECTIVE_BYTES = 128 * 1024;
