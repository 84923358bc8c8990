// esbuild options for the Electron bundles, shared by scripts/build.mjs and the unit test
// that checks the preload bundle needs nothing but 'electron' (the sandbox allows no more).
export const electronBuildOptions = {
  entryPoints: { main: 'electron/main.ts', preload: 'electron/preload.ts' },
  outdir: 'dist/electron',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  outExtension: { '.js': '.cjs' },
  // Native addons stay in node_modules; 'electron' is provided by Electron itself.
  external: ['electron', '@napi-rs/keyring', 'koffi'],
  logLevel: 'warning',
};
