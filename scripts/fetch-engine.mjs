#!/usr/bin/env node
// Build-time fetch of the tunnel engine the packages carry (packaging/engine.json):
// `node scripts/fetch-engine.mjs NAME...`. Each file is downloaded once, checked against
// its SHA-256 pin, and only then moved into place; a file already there is checked again.
// A missing or malformed pin stops the build before anything is downloaded, and a
// mismatch stops it with both hashes named. Never run by the app: nothing is downloaded
// at run time.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HEX64 = /^[0-9a-f]{64}$/;

export function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The pin, or an error that says why the build cannot go on. */
export function checkPin(name, artifact) {
  if (!artifact || typeof artifact.url !== 'string' || typeof artifact.out !== 'string') throw new Error(`${name}: no such artifact in packaging/engine.json`);
  if (!artifact.url.startsWith('https://')) throw new Error(`${name}: ${artifact.url} is not an https URL`);
  if (!HEX64.test(artifact.sha256 ?? '')) {
    throw new Error(`${name}: packaging/engine.json has no verified SHA-256 for ${artifact.url} ("${artifact.sha256}"); refusing to build with an unpinned engine`);
  }
  return artifact.sha256;
}

export function verify(name, bytes, expected) {
  const actual = sha256(bytes);
  if (actual !== expected) throw new Error(`${name}: SHA-256 mismatch for the downloaded file: expected ${expected}, got ${actual}; refusing it`);
}

/** Fetches one artifact into root/out (fetchImpl and root are injected by tests). */
export async function fetchArtifact(name, artifact, { fetchImpl = globalThis.fetch, root = ROOT, log = console.log } = {}) {
  const expected = checkPin(name, artifact);
  const out = path.resolve(root, artifact.out);
  const existing = await readFile(out).catch(() => undefined);
  if (existing && sha256(existing) === expected) {
    log(`${name}: ${artifact.out} already present and verified`);
    return out;
  }
  log(`${name}: downloading ${artifact.url}`);
  const response = await fetchImpl(artifact.url, { redirect: 'follow' });
  if (!response.ok) throw new Error(`${name}: ${artifact.url} answered HTTP ${response.status}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  verify(name, bytes, expected);
  await mkdir(path.dirname(out), { recursive: true });
  const partial = `${out}.partial`;
  await writeFile(partial, bytes);
  await rename(partial, out).catch(async (err) => {
    await rm(partial, { force: true });
    throw err;
  });
  log(`${name}: ${artifact.out} verified (sha256 ${expected})`);
  return out;
}

export async function loadManifest(root = ROOT) {
  return JSON.parse(await readFile(path.join(root, 'packaging/engine.json'), 'utf8'));
}

async function main(names) {
  if (names.length === 0) {
    console.error('usage: node scripts/fetch-engine.mjs NAME... (names: packaging/engine.json artifacts)');
    return 2;
  }
  const manifest = await loadManifest();
  for (const name of names) await fetchArtifact(name, manifest.artifacts[name]);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err) => {
      console.error(`fetch-engine: ${err.message}`);
      process.exitCode = 1;
    },
  );
}
