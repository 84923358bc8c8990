// The renderer's build. `base: './'` keeps every asset URL relative, so the same output
// works from Electron's app://ferry/ protocol and from the test host's http://127.0.0.1.
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: './',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/renderer', import.meta.url)),
    emptyOutDir: true,
    target: 'chrome130',
    // Nothing may be inlined: the CSP allows scripts and styles from 'self' only, and
    // fonts and images as files or data: URLs (no inline <style> or <script> ever).
    assetsInlineLimit: 0,
    // The modulepreload polyfill is for old browsers; Chromium has native support.
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
  },
  logLevel: 'warn',
});
