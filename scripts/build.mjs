// Builds the command-line programs as ESM bundles in dist/. Bundling (with lazily loaded
// chunks for the X.509 stack) halves start-up time against loading ~300 separate modules,
// which matters for a CLI that is run once per command. Type checking is `npm run typecheck`.
import { build } from 'esbuild';
import { mkdir, readdir, rm } from 'node:fs/promises';

// Only this step's own output: the renderer (Vite) and Electron bundles live in subfolders.
await mkdir('dist', { recursive: true });
for (const file of await readdir('dist')) if (/\.mjs(\.map)?$/.test(file)) await rm(`dist/${file}`);
await build({
  entryPoints: { 'ferry-server': 'server/cli.ts', ferry: 'core/cli.ts', 'ferry-helper': 'native/helper/main.ts' },
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
