/**
 * The main process's small file chores: files opened with Ferry (argv → contents) and
 * the Linux autostart entry for "start at login".
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { autostartEntry, autostartFile, launchCommand, quoteExecArg, setLinuxAutostart } from '../../electron/autostart.js';
import { importPathsFromArgv, readImportFiles } from '../../electron/open-files.js';
import { tempDir } from '../support/cli.js';

describe('files opened with Ferry', () => {
  it('picks .ovpn and .zip paths out of argv, skipping the program and switches', () => {
    expect(importPathsFromArgv(['/opt/Ferry/ferry', '--hidden', 'office.OVPN', '/dl/bundle.zip', 'notes.txt', '.'], '/home/me')).toEqual([
      '/home/me/office.OVPN',
      '/dl/bundle.zip',
    ]);
    expect(importPathsFromArgv(['/usr/bin/electron', '.'], '/src/ferry')).toEqual([]);
  });

  it('reads them as base64; missing or oversized files are reported, not thrown', async () => {
    const dir = await tempDir('ferry-open-');
    await writeFile(path.join(dir, 'office.ovpn'), 'client\n');
    await writeFile(path.join(dir, 'huge.zip'), Buffer.alloc(1024 * 1024 + 1));
    await mkdir(path.join(dir, 'folder.zip'));
    const { files, problems } = await readImportFiles(['office.ovpn', 'gone.ovpn', 'huge.zip', 'folder.zip'].map((f) => path.join(dir, f)));
    expect(files).toEqual([{ name: 'office.ovpn', base64: Buffer.from('client\n').toString('base64') }]);
    expect(problems).toEqual(['gone.ovpn: not found', 'huge.zip: larger than 1 MiB; profile files are small', 'folder.zip: not a regular file']);
  });
});

describe('start at login on Linux', () => {
  it('writes and removes ~/.config/autostart/ferry.desktop, starting Ferry hidden', async () => {
    const env = { XDG_CONFIG_HOME: await tempDir('ferry-xdg-') };
    const file = autostartFile(env);
    expect(file).toBe(path.join(env.XDG_CONFIG_HOME, 'autostart', 'ferry.desktop'));
    await setLinuxAutostart(true, '/opt/Ferry/ferry', env);
    const entry = await readFile(file, 'utf8');
    expect(entry).toMatch(/^Exec=\/opt\/Ferry\/ferry --hidden$/m);
    expect(entry).toMatch(/^Type=Application$/m);
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    await setLinuxAutostart(false, '/opt/Ferry/ferry', env);
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
    await setLinuxAutostart(false, '/opt/Ferry/ferry', env); // already gone: fine
  });

  it('quotes odd paths as the Desktop Entry spec wants; an AppImage starts its own file', () => {
    expect(quoteExecArg('/home/me/My Apps/Ferry "new" $1.AppImage')).toBe('"/home/me/My Apps/Ferry \\"new\\" \\$1.AppImage"');
    expect(autostartEntry('/home/me/a b/Ferry.AppImage')).toContain('Exec="/home/me/a b/Ferry.AppImage" --hidden');
    expect(launchCommand({ APPIMAGE: '/home/me/Ferry.AppImage' }, '/tmp/.mount_x/ferry')).toBe('/home/me/Ferry.AppImage');
    expect(launchCommand({}, '/opt/Ferry/ferry')).toBe('/opt/Ferry/ferry');
  });
});
