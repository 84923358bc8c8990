// Built exactly as the app is: renderer/vite.config.ts with only the entry (this folder)
// changed; bench/ui.ts passes the output directory.
import { fileURLToPath } from 'node:url';
import { mergeConfig } from 'vite';
import renderer from '../../renderer/vite.config.js';

export default mergeConfig(renderer, { root: fileURLToPath(new URL('.', import.meta.url)) });
