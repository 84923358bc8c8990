/**
 * Packaging, as far as it can be checked without Electron's binary: the electron-builder
 * config (targets, dependencies, the helper's service, what goes into the package), the
 * afterPack hook flipping the fuses (on a stand-in binary carrying Electron's fuse wire),
 * the bundles (the preload needs nothing but 'electron'), the install scripts, and the
 * icons and desktop entry.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { electronBuildOptions } from '../../scripts/electron-build-options.mjs';
import { ROOT, tempDir } from '../support/cli.js';

const require = createRequire(import.meta.url);

const Resources = z.array(z.object({ from: z.string(), to: z.string() }).passthrough());
const ConfigSchema = z.object({
  appId: z.string(),
  productName: z.literal('Ferry'),
  asar: z.literal(true),
  files: z.array(z.string()),
  afterPack: z.string(),
  fileAssociations: z.array(z.object({ ext: z.string(), mimeType: z.string().optional() }).passthrough()),
  linux: z.object({ target: z.array(z.string()), executableName: z.string(), extraResources: Resources }).passthrough(),
  deb: z.object({ depends: z.array(z.string()), afterInstall: z.string(), afterRemove: z.string() }).passthrough(),
  rpm: z.object({ depends: z.array(z.string()), afterInstall: z.string(), afterRemove: z.string() }).passthrough(),
  win: z.object({ target: z.array(z.string()) }).passthrough(),
  mac: z.object({ target: z.array(z.string()), extraResources: Resources }).passthrough(),
});

async function config() {
  const yaml = require('js-yaml') as { load(text: string): unknown };
  return ConfigSchema.parse(yaml.load(await readFile(path.join(ROOT, 'electron-builder.yml'), 'utf8')));
}

describe('electron-builder.yml', () => {
  it('builds AppImage, deb and rpm, nsis, pkg and dmg, and associates .ovpn files', async () => {
    const c = await config();
    expect(c.linux.target).toEqual(['AppImage', 'deb', 'rpm']);
    expect(c.win.target).toEqual(['nsis']);
    expect(c.mac.target).toEqual(['pkg', 'dmg']);
    expect(c.fileAssociations).toContainEqual(expect.objectContaining({ ext: 'ovpn', mimeType: 'application/x-openvpn-profile' }));
  });

  it('deb and rpm depend on openvpn (and Node.js for the helper) and keep the default dependencies', async () => {
    const c = await config();
    for (const pkg of [c.deb, c.rpm]) {
      expect(pkg.depends).toContain('openvpn');
      expect(pkg.depends.some((d) => d.startsWith('nodejs'))).toBe(true);
    }
    // Setting depends replaces electron-builder's list: the libraries Electron needs must stay.
    expect(c.deb.depends).toEqual(expect.arrayContaining(['libgtk-3-0', 'libnss3', 'libsecret-1-0']));
    expect(c.rpm.depends).toEqual(expect.arrayContaining(['gtk3', 'nss']));
  });

  it('ships the app bundles, icons and package.json only — no tests, sources or the test host', async () => {
    const c = await config();
    expect(c.files.filter((f) => !f.startsWith('!'))).toEqual([
      'package.json',
      'dist/electron/**/*',
      'dist/renderer/**/*',
      'assets/**/*',
      'node_modules/@napi-rs/keyring/**/*',
      'node_modules/@napi-rs/keyring-*/**/*',
    ]);
    expect(c.files).toContain('!node_modules/**/*');
    expect(c.files.join(' ')).not.toMatch(/test|bench|renderer\/src|core\/|host/);
  });

  it('installs the helper and its systemd units from native/linux, which exist', async () => {
    const c = await config();
    expect(c.linux.extraResources).toContainEqual(expect.objectContaining({ from: 'native/linux', to: 'linux' }));
    expect(c.linux.extraResources).toContainEqual(expect.objectContaining({ from: 'bin/ferry-helper.js', to: 'helper/bin/ferry-helper.js' }));
    for (const unit of ['ferry-helper.service', 'ferry-helper.socket']) expect(existsSync(path.join(ROOT, 'native/linux', unit)), unit).toBe(true);
    // koffi's entry point lives under src/, and its binary in a separate @koromix package.
    const koffi = c.linux.extraResources.find((r: { from: string }) => r.from === 'node_modules/koffi') as { filter: string[] } | undefined;
    expect(koffi?.filter.some((f) => f.startsWith('!src'))).toBe(false);
    expect(c.linux.extraResources).toContainEqual(expect.objectContaining({ from: 'node_modules/@koromix', to: 'helper/node_modules/@koromix' }));
    // The unit starts the helper where the package puts it.
    expect(await readFile(path.join(ROOT, 'native/linux/ferry-helper.service'), 'utf8')).toContain('/opt/Ferry/resources/helper/bin/ferry-helper.js');
    const install = await readFile(path.join(ROOT, c.deb.afterInstall), 'utf8');
    expect(install).toContain('systemctl enable --now ferry-helper.socket');
    expect(install).toMatch(/install -m 0644 "\$UNIT_SOURCE\/ferry-helper.service"/);
    expect(install).toContain("chrome-sandbox"); // electron-builder's own step, kept
    // The helper's start rule (native/helper/policy.ts): the group exists, the installing user is in it.
    expect(install).toContain('groupadd --system ferry');
    expect(install).toContain('usermod -aG ferry "$INSTALLER"');
    const remove = await readFile(path.join(ROOT, c.deb.afterRemove), 'utf8');
    expect(remove).toMatch(/case "\$1" in\s+remove\|purge\|0\) ;;/); // not on upgrade
    expect(remove).toContain('systemctl disable --now ferry-helper.socket');
    // electron-builder fills in only ${name} macros it knows; anything else would abort the build.
    for (const script of [install, remove]) {
      expect([...script.matchAll(/\$\{([a-zA-Z]+)\}/g)].map((m) => m[1]).every((name) => name === 'executable' || name === 'sanitizedProductName')).toBe(true);
    }
    expect(c.rpm.afterInstall).toBe(c.deb.afterInstall);
  });

  it('every path the config names exists', async () => {
    const c = await config();
    for (const file of [c.afterPack, c.deb.afterInstall, c.deb.afterRemove, 'assets/icon.png', 'assets/icons/256x256.png', 'packaging/helper-package.json']) {
      expect(existsSync(path.join(ROOT, file)), file).toBe(true);
    }
  });
});

describe('afterPack: Electron fuses', () => {
  // @electron/fuses finds the wire after this sentinel: version 1, length, one byte per fuse.
  const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';

  async function fakeElectron(file: string): Promise<void> {
    // As shipped: RunAsNode, NODE_OPTIONS and --inspect on; integrity, asar-only, cookie encryption off.
    const wire = Buffer.from([1, 8, ...'10110011'].map((c) => (typeof c === 'number' ? c : c.charCodeAt(0))));
    await writeFile(file, Buffer.concat([Buffer.from('\u007fELF fake electron binary '), Buffer.from(SENTINEL), wire, Buffer.from(' rest')]));
  }

  it('flips RunAsNode, NODE_OPTIONS and inspect off; asar integrity, asar-only and cookie encryption on', async () => {
    const afterPack = require(path.join(ROOT, 'scripts/after-pack.cjs')) as (context: unknown) => Promise<void>;
    const { getCurrentFuseWire, FuseV1Options } = require('@electron/fuses') as typeof import('@electron/fuses');
    const appOutDir = await tempDir('ferry-pack-');
    await fakeElectron(path.join(appOutDir, 'ferry'));
    await afterPack({ appOutDir, electronPlatformName: 'linux', packager: { executableName: 'ferry', appInfo: { productFilename: 'Ferry' } } });
    const wire = await getCurrentFuseWire(path.join(appOutDir, 'ferry'));
    const on = 49;
    const off = 48;
    expect({
      runAsNode: wire[FuseV1Options.RunAsNode],
      nodeOptions: wire[FuseV1Options.EnableNodeOptionsEnvironmentVariable],
      inspect: wire[FuseV1Options.EnableNodeCliInspectArguments],
      asarIntegrity: wire[FuseV1Options.EnableEmbeddedAsarIntegrityValidation],
      onlyAsar: wire[FuseV1Options.OnlyLoadAppFromAsar],
      cookieEncryption: wire[FuseV1Options.EnableCookieEncryption],
      fileProtocolPrivileges: wire[FuseV1Options.GrantFileProtocolExtraPrivileges],
    }).toEqual({ runAsNode: off, nodeOptions: off, inspect: off, asarIntegrity: on, onlyAsar: on, cookieEncryption: on, fileProtocolPrivileges: off });
  });

  it('finds the binary where electron-builder puts it on each platform', () => {
    const { electronBinary } = require(path.join(ROOT, 'scripts/after-pack.cjs')) as { electronBinary: (c: unknown) => string };
    const packager = { executableName: 'ferry', appInfo: { productFilename: 'Ferry' } };
    expect(electronBinary({ appOutDir: '/out', electronPlatformName: 'linux', packager })).toBe('/out/ferry');
    expect(electronBinary({ appOutDir: '/out', electronPlatformName: 'win32', packager })).toBe('/out/Ferry.exe');
    expect(electronBinary({ appOutDir: '/out', electronPlatformName: 'darwin', packager })).toBe('/out/Ferry.app');
  });
});

describe('bundles and package.json', () => {
  it('package.json starts the built main process and has start / dist scripts', async () => {
    const pkg = z
      .object({ main: z.string(), scripts: z.object({ start: z.string(), dist: z.string(), build: z.string() }) })
      .parse(JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')));
    expect(pkg.main).toBe('dist/electron/main.cjs');
    expect(pkg.scripts.start).toBe('npm run build && electron .');
    expect(pkg.scripts.dist).toMatch(/^npm run build && electron-builder/);
  });

  it('the preload is one CommonJS file that requires only electron; main leaves only native addons and electron outside', async () => {
    const outdir = await tempDir('ferry-bundle-');
    const result = await build({ ...electronBuildOptions, absWorkingDir: ROOT, outdir, metafile: true, minify: false, sourcemap: false, logLevel: 'silent' });
    const externals = (name: string) => {
      const output = Object.entries(result.metafile.outputs).find(([file]) => file.endsWith(`${name}.cjs`))![1];
      return [...new Set(output.imports.filter((i) => i.external).map((i) => i.path))].filter((p) => !/^(node:|[a-z_]+$)/.test(p) || p === 'electron');
    };
    expect(externals('preload')).toEqual(['electron']);
    expect(externals('main').sort()).toEqual(['@napi-rs/keyring', 'electron']);
    const preload = await readFile(path.join(outdir, 'preload.cjs'), 'utf8');
    expect([...preload.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1])).toEqual(['electron']);
  });
});

describe('assets', () => {
  it('has the app icon and the four tray icons at 1x and 2x, as PNG of the right size', async () => {
    const size = async (file: string) => {
      const data = await readFile(path.join(ROOT, 'assets', file));
      expect(data.subarray(0, 8).toString('hex'), file).toBe('89504e470d0a1a0a');
      return [data.readUInt32BE(16), data.readUInt32BE(20)];
    };
    expect(await size('icon.png')).toEqual([512, 512]);
    for (const state of ['disconnected', 'connecting', 'connected', 'error']) {
      expect(await size(`tray/${state}.png`)).toEqual([16, 16]);
      expect(await size(`tray/${state}@2x.png`)).toEqual([32, 32]);
    }
  });

  it('has a Linux desktop entry that opens .ovpn files', async () => {
    const entry = await readFile(path.join(ROOT, 'assets/ferry.desktop'), 'utf8');
    expect(entry).toMatch(/^\[Desktop Entry\]$/m);
    expect(entry).toMatch(/^Exec=ferry %F$/m);
    expect(entry).toMatch(/^MimeType=application\/x-openvpn-profile;$/m);
  });
});
