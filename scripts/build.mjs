// Builds the command-line programs as ESM bundles in dist/, and the Electron main process
// and preload as CommonJS in dist/electron/ (the renderer is Vite's, see renderer/). Bundling (with lazily loaded
// chunks for the X.509 stack) halves start-up time against loading ~300 separate modules,
// which matters for a CLI that is run once per command. Type checking is `npm run typecheck`.
import { build } from 'esbuild';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { electronBuildOptions } from './electron-build-options.mjs';

// Only this step's own output: the renderer (Vite) and Electron bundles live in subfolders.
await mkdir('dist', { recursive: true });
for (const file of await readdir('dist')) if (/\.mjs(\.map)?$/.test(file)) await rm(`dist/${file}`);
/**
 * zod re-exports every locale it has (`z.locales`, 40-odd languages, over a third of its
 * source); Ferry uses only the English messages zod configures by default, imported on their
 * own. Leaving the rest out of the bundle takes that much parsing off every CLI start.
 */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](classic|core)$/.test(args.resolveDir) ? { path: 'zod-locales', namespace: 'zod-english-only' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, () => ({ contents: "export { default as en } from 'zod/v4/locales/en.js';", resolveDir: process.cwd() }));
  },
};

await build({
  entryPoints: { 'ferry-server': 'server/cli.ts', ferry: 'core/cli.ts', 'ferry-helper': 'native/helper/main.ts' },
  plugins: [zodEnglishOnly],
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  outExtension: { '.js': '.mjs' },
  // CommonJS dependencies (e.g. tsyringe) call require(); give them one.
  banner: { js: "import { createRequire as __ferryRequire } from 'node:module'; const require = __ferryRequire(import.meta.url);" },
  // Native addons stay in node_modules: a .node binary cannot be bundled.
  external: ['@napi-rs/keyring', 'koffi'],
  logLevel: 'warning',
});

// Electron: main.cjs and preload.cjs. The preload runs in the renderer's sandbox, which
// can require nothing but 'electron' (and a few Node shims): it must be one file with
// every other import bundled in. Main keeps the native addons external, like the CLI.
await build(electronBuildOptions);
