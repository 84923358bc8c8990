/**
 * "Start at login". Windows and macOS have an API for it (app.setLoginItemSettings, used
 * by main.ts); Linux desktops follow the XDG autostart spec instead: a .desktop file in
 * ~/.config/autostart. Ferry starts there with --hidden, i.e. in the tray only.
 */
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../core/util/atomic-file.js';

export const HIDDEN_FLAG = '--hidden';

export function autostartFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'autostart', 'ferry.desktop');
}

/** Desktop Entry Exec quoting: arguments in double quotes with ", `, $ and \ escaped. */
export function quoteExecArg(arg: string): string {
  if (/^[A-Za-z0-9_./:+-]+$/.test(arg)) return arg;
  return `"${arg.replace(/(["`$\\])/g, '\\$1')}"`;
}

export function autostartEntry(exec: string): string {
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Name=Ferry',
    'Comment=SSL VPN client',
    `Exec=${quoteExecArg(exec)} ${HIDDEN_FLAG}`,
    'Icon=ferry',
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
}

/**
 * The program to start: an AppImage is a file that mounts itself somewhere new each
 * time (its runtime sets $APPIMAGE to the file); anything else is the installed binary.
 */
export function launchCommand(env: NodeJS.ProcessEnv = process.env, execPath = process.execPath): string {
  return env.APPIMAGE || execPath;
}

export async function setLinuxAutostart(enabled: boolean, exec: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const file = autostartFile(env);
  if (!enabled) {
    await rm(file, { force: true });
    return;
  }
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, autostartEntry(exec), 0o644);
}
