/**
 * The packages carry or install the engine: the build-time fetch script (pins checked,
 * mismatches refused, nothing written until verified), the manifest's pins, and what
 * electron-builder.yml, the NSIS include, the macOS pkg script and the launchd plist say.
 * None of the builds can run here (no Windows, no Mac, no Electron binary); this checks
 * their inputs.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkPin, fetchArtifact, loadManifest, verify } from '../../scripts/fetch-engine.mjs';
import { ROOT, tempDir } from '../support/cli.js';

const require = createRequire(import.meta.url);
const PAYLOAD = Buffer.from('pretend MSI bytes');
const PIN = createHash('sha256').update(PAYLOAD).digest('hex');

function serving(bytes: Buffer, status = 200) {
  const urls: string[] = [];
  const fetchImpl = async (url: string) => {
    urls.push(url);
    return new Response(bytes, { status });
  };
  return { urls, fetchImpl };
}

describe('scripts/fetch-engine.mjs', () => {
  it('downloads, verifies, and writes the file; a second run only re-checks it', async () => {
    const root = await tempDir();
    const { urls, fetchImpl } = serving(PAYLOAD);
    const artifact = { url: 'https://example.invalid/OpenVPN.msi', sha256: PIN, out: 'build/engine/win-x64/OpenVPN.msi' };
    const out = await fetchArtifact('x', artifact, { fetchImpl, root, log: () => {} });
    expect(out).toBe(path.join(root, artifact.out));
    expect(await readFile(out)).toEqual(PAYLOAD);
    await fetchArtifact('x', artifact, { fetchImpl, root, log: () => {} });
    expect(urls).toHaveLength(1);
  });

  it('refuses a mismatch, naming both hashes, and leaves nothing behind', async () => {
    const root = await tempDir();
    const { fetchImpl } = serving(Buffer.from('tampered'));
    const artifact = { url: 'https://example.invalid/OpenVPN.msi', sha256: PIN, out: 'build/OpenVPN.msi' };
    await expect(fetchArtifact('x', artifact, { fetchImpl, root, log: () => {} })).rejects.toThrow(new RegExp(`SHA-256 mismatch.*expected ${PIN}, got [0-9a-f]{64}; refusing it`));
    expect(existsSync(path.join(root, 'build'))).toBe(false);
  });

  it('an unpinned or malformed pin stops the build before any download', async () => {
    const { urls, fetchImpl } = serving(PAYLOAD);
    for (const sha256 of ['UNVERIFIED: pin me', PIN.toUpperCase(), PIN.slice(1), '']) {
      await expect(fetchArtifact('x', { url: 'https://example.invalid/a', sha256, out: 'a' }, { fetchImpl, root: '/nonexistent', log: () => {} })).rejects.toThrow(/no verified SHA-256.*refusing to build/);
    }
    expect(() => checkPin('x', { url: 'http://example.invalid/a', sha256: PIN, out: 'a' })).toThrow(/not an https URL/);
    expect(() => checkPin('x', undefined)).toThrow(/no such artifact/);
    expect(urls).toEqual([]);
  });

  it('an HTTP error stops it too', async () => {
    const { fetchImpl } = serving(Buffer.alloc(0), 404);
    await expect(fetchArtifact('x', { url: 'https://example.invalid/a', sha256: PIN, out: 'a' }, { fetchImpl, root: await tempDir(), log: () => {} })).rejects.toThrow(/HTTP 404/);
    expect(() => verify('x', PAYLOAD, PIN)).not.toThrow();
  });

  it('the manifest names every artifact the build scripts use; every pin is 64 hex digits and says where it was read', async () => {
    const { artifacts } = await loadManifest(ROOT);
    expect(Object.keys(artifacts).sort()).toEqual(['node-darwin-arm64', 'node-darwin-x64', 'openvpn-source', 'openvpn-windows-x64']);
    for (const [name, a] of Object.entries(artifacts)) {
      expect(a.url, name).toMatch(/^https:\/\//);
      expect(a.out, name).toMatch(/^build\/engine\//);
      expect(() => checkPin(name, a), name).not.toThrow();
      expect((a as { pinnedFrom?: unknown }).pinnedFrom, name).toEqual(expect.arrayContaining([expect.stringMatching(/\S/)]));
    }
    // One engine version for both platforms: the MSI and the macOS source are the same release.
    const msiVersion = /OpenVPN-(2\.6\.\d+)-I\d{3}-amd64\.msi$/.exec(artifacts['openvpn-windows-x64']!.url)?.[1];
    expect(artifacts['openvpn-source']!.url).toContain(`/openvpn-${msiVersion}.tar.gz`);
    expect(artifacts['openvpn-windows-x64']!.url).toMatch(/OpenVPN-2\.6\.\d+-I\d{3}-amd64\.msi$/);
    expect(artifacts['openvpn-windows-x64']!.out).toBe('build/engine/win-x64/OpenVPN.msi');
  });
});

describe('packages carry or install the engine', () => {
  async function config() {
    const yaml = require('js-yaml') as { load(text: string): unknown };
    return yaml.load(await readFile(path.join(ROOT, 'electron-builder.yml'), 'utf8')) as {
      nsis: { include: string };
      mac: { target: string[]; extraResources: { from: string; to: string }[] };
      pkg: { scripts: string; installLocation: string; isRelocatable: boolean };
      directories: { buildResources: string };
    };
  }

  it('Windows: the NSIS include installs the pinned MSI (no GUI) when the interactive service is missing, else stops', async () => {
    const c = await config();
    const nsh = await readFile(path.join(ROOT, c.nsis.include), 'utf8');
    expect(nsh).toContain('!macro customInstall');
    expect(nsh).toContain('sc.exe" query OpenVPNServiceInteractive');
    expect(nsh).toContain('"${PROJECT_DIR}\\build\\engine\\win-x64\\OpenVPN.msi"');
    const addlocal = /ADDLOCAL=(\S+)/.exec(nsh)![1]!.split(',');
    // msi.wxs (openvpn-build OpenVPN-2.6.19-I001): the interactive service is in "OpenVPN".
    expect(addlocal).toEqual(['OpenVPN', 'Drivers', 'Drivers.OvpnDco', 'Drivers.TAPWindows6', 'Drivers.Wintun']);
    // The GitHub workflow installs the engine the way the installer does.
    const workflow = await readFile(path.join(ROOT, '.github/workflows/ci.yml'), 'utf8');
    expect(/ADDLOCAL=([^'\s]+)/.exec(workflow)?.[1]?.split(',')).toEqual(addlocal);
    expect(nsh.match(/Abort "/g)).toHaveLength(2);
    expect(nsh).not.toMatch(/https?:\/\/[^\s"]*\.msi|NSISdl|inetc/i); // nothing downloaded while installing
  });

  it('macOS: the app carries openvpn and Node for the helper; the pkg installs the daemon from native/darwin', async () => {
    const c = await config();
    expect(c.mac.extraResources).toEqual(
      expect.arrayContaining([
        { from: 'build/engine/darwin-${arch}/openvpn', to: 'openvpn' },
        { from: 'build/engine/darwin-${arch}/node/node', to: 'helper/node' },
        expect.objectContaining({ from: 'native/darwin', to: 'darwin' }),
      ]),
    );
    expect(c.pkg).toMatchObject({ installLocation: '/Applications', isRelocatable: false });
    const scripts = path.resolve(ROOT, c.directories.buildResources, c.pkg.scripts);
    const postinstall = path.join(scripts, 'postinstall');
    expect(statSync(postinstall).mode & 0o111).not.toBe(0); // pkgbuild runs only executable scripts
    const text = await readFile(postinstall, 'utf8');
    expect(text).toMatch(/^#!\/bin\/sh\n/);
    expect(text).toContain('DEST="/Library/Application Support/Ferry"');
    expect(text).toContain('chown -R root:wheel "$DEST.new"');
    expect(text).toContain('chmod -R go-w "$DEST.new"');
    expect(text).toContain('dseditgroup -o create');
    expect(text).toContain('launchctl bootstrap system "$PLIST"');
    // The plist starts what postinstall copied, on the socket the client looks for on macOS.
    const plist = await readFile(path.join(ROOT, 'native/darwin/com.ferry.helper.plist'), 'utf8');
    expect(plist).toContain('<string>/Library/Application Support/Ferry/helper/node</string>');
    expect(plist).toContain('<string>/Library/Application Support/Ferry/helper/bin/ferry-helper.js</string>');
    expect(plist).toContain('<string>/var/db/ferry/helper.sock</string>');
    expect(plist).not.toContain('/Applications/');
    const build = await readFile(path.join(ROOT, 'scripts/build-openvpn-macos.sh'), 'utf8');
    expect(build).toContain('node scripts/fetch-engine.mjs openvpn-source "node-darwin-$ARCH"');
    expect(build).toContain('OUT="build/engine/darwin-$ARCH"');
  });

  it('the client looks for the helper where each platform\'s service puts it', async () => {
    const { helperSocketPath } = await import('../../core/engine/helper-protocol.js');
    expect(helperSocketPath({}, 'darwin')).toBe('/var/db/ferry/helper.sock');
    expect(helperSocketPath({}, 'linux')).toBe('/run/ferry/helper.sock');
    expect(helperSocketPath({ FERRY_HELPER_SOCKET: '/x.sock' }, 'darwin')).toBe('/x.sock');
  });
});
