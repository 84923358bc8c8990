/** Ferry's version: package.json's, bundled at build time (one source). */
import pkg from '../package.json' with { type: 'json' };

export const FERRY_VERSION: string = pkg.version;
