/**
 * The Electron main process: wires the pieces together and owns the app's lifecycle.
 * One instance only (a second start focuses the window and hands over its files); the
 * window hides to the tray when closed; Quit disconnects every tunnel first. Everything
 * with rules worth testing lives in its own module (contract-handlers, ipc, window, tray,
 * session-watch, power, autostart, open-files); this file only connects them to Electron.
 *
 * The launcher (openvpn directly as root, else ferry-helper) is chosen by the core's
 * FerryClient, as for the CLI.
 */
import path from 'node:path';
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  net,
  Notification,
  powerMonitor,
  protocol,
  session as electronSession,
  Tray,
  type MenuItemConstructorOptions,
} from 'electron';
import { FerryClient } from '../core/client.js';
import type { TunnelChange } from '../core/session/registry.js';
import { describeError } from '../core/util/errors.js';
import { HIDDEN_FLAG, launchCommand, setLinuxAutostart } from './autostart.js';
import type { FerryEvent, Settings } from './contract.js';
import { broadcast, registerIpc } from './ipc.js';
import { importPathsFromArgv, readImportFiles } from './open-files.js';
import { watchPowerAndNetwork } from './power.js';
import { ContractHandlers } from './contract-handlers.js';
import { reactionTo } from './session-watch.js';
import { stringsFor, type MainStrings } from './strings.js';
import { withTrayProbe } from './e2e-probe.js';
import { TrayController, type TrayIconState } from './tray.js';
import { APP_SCHEME_PRIVILEGES, createWindow, lockDownContents, lockDownSession, serveApp } from './window.js';

export const APP_USER_MODEL_ID = 'org.ferry.desktop';
/** How long Quit waits for tunnels to close before leaving anyway. */
const QUIT_GRACE_MS = 10_000;

export function runMain(): void {
  // Must happen before `ready`: app:// becomes a secure, standard origin.
  protocol.registerSchemesAsPrivileged([{ ...APP_SCHEME_PRIVILEGES, privileges: { ...APP_SCHEME_PRIVILEGES.privileges } }]);
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  new FerryApp().start();
}

class FerryApp {
  private win: BrowserWindow | undefined;
  private service: ContractHandlers | undefined;
  private tray: TrayController | undefined;
  private strings: MainStrings = stringsFor('system', 'en');
  private stopPower: (() => void) | undefined;
  private quitting = false;
  private shutDown = false;
  /** Files opened before the app was ready (macOS 'open-file' comes that early). */
  private readonly earlyFiles: string[] = [];

  start(): void {
    app.on('open-file', (event, file) => {
      event.preventDefault();
      if (this.service) void this.openFiles([file]);
      else this.earlyFiles.push(file);
    });
    app.on('second-instance', (_event, argv, workingDirectory) => {
      const files = importPathsFromArgv(argv, workingDirectory);
      if (!this.service) {
        this.earlyFiles.push(...files);
        return;
      }
      this.showWindow();
      void this.openFiles(files);
    });
    // Every webContents, however created, gets the same guards.
    app.on('web-contents-created', (_event, contents) => lockDownContents(contents));
    // Closing the window keeps Ferry in the tray; only Quit ends it.
    app.on('window-all-closed', () => {});
    app.on('activate', () => this.showWindow());
    app.on('before-quit', (event) => {
      if (this.shutDown) return;
      event.preventDefault();
      if (this.quitting) return;
      this.quitting = true;
      void this.shutdown();
    });
    app
      .whenReady()
      .then(() => this.ready())
      .catch((err: unknown) => this.fatal(err));
  }

  private async ready(): Promise<void> {
    if (process.platform === 'win32') app.setAppUserModelId(APP_USER_MODEL_ID);
    const root = app.getAppPath();
    lockDownSession(electronSession.defaultSession);
    serveApp(electronSession.defaultSession.protocol, path.join(root, 'dist/renderer'));
    Menu.setApplicationMenu(process.platform === 'darwin' ? Menu.buildFromTemplate(macMenu()) : null);

    const client = new FerryClient();
    const service = new ContractHandlers({
      client,
      systemLanguage: app.getLocale(),
      platform: process.platform,
      version: app.getVersion(),
      chooseSavePath: (suggested) => this.chooseSavePath(suggested),
      applySettings: (next, previous) => this.applySettings(next, previous),
    });
    this.service = service;
    const settings = await service.getSettings();
    this.strings = stringsFor(settings.language, app.getLocale());

    registerIpc({ ipcMain, handlers: service.handlers, windowIds: () => (this.win && !this.win.isDestroyed() ? [this.win.webContents.id] : []) });
    service.on('event', (event) => this.onServiceEvent(event));
    // Window, tray and notifications follow the core's registry: tunnels of this app and of
    // `ferry connect` in a terminal alike.
    client.registry.on('change', (change) => void this.onTunnelChange(change).catch((err: unknown) => console.error(`ferry: ${describeError(err)}`)));
    await service.start();

    this.tray = this.createTray(root);
    await this.refreshTray();

    // Started at login: tray only. macOS login items pass no arguments, but say so themselves.
    const hidden = process.argv.includes(HIDDEN_FLAG) || (process.platform === 'darwin' && app.getLoginItemSettings().wasOpenedAtLogin);
    this.createMainWindow(!hidden);

    this.stopPower = watchPowerAndNetwork({ powerMonitor, target: service, isOnline: () => net.isOnline() });

    await this.openFiles([...this.earlyFiles.splice(0), ...importPathsFromArgv(process.argv, process.cwd())]);
    await service.connectAutoProfiles();
  }

  // ---- window ----------------------------------------------------------------------

  private createMainWindow(show: boolean): BrowserWindow {
    const root = app.getAppPath();
    const win = createWindow(BrowserWindow, {
      preload: path.join(root, 'dist/electron/preload.cjs'),
      icon: path.join(root, 'assets/icon.png'),
      show,
    });
    win.on('close', (event) => {
      if (this.quitting) return;
      event.preventDefault();
      win.hide();
    });
    win.on('closed', () => {
      if (this.win === win) this.win = undefined;
    });
    this.win = win;
    return win;
  }

  private showWindow(): void {
    if (!this.service) return; // not ready yet: the window appears on its own
    const win = this.win && !this.win.isDestroyed() ? this.win : this.createMainWindow(true);
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
  }

  /** Sends once the page (and with it the preload's listener) is there. */
  private send(event: FerryEvent): void {
    const win = this.win;
    if (!win || win.isDestroyed()) return;
    if (win.webContents.isLoading()) win.webContents.once('did-finish-load', () => broadcast([win.webContents], event));
    else broadcast([win.webContents], event);
  }

  // ---- service events: window, tray, notifications --------------------------------

  private onServiceEvent(event: FerryEvent): void {
    this.send(event);
    // A question (password, code) from a connect started in the tray or at login: the
    // window is where it can be answered.
    if (event.type === 'prompt') this.showWindow();
    if (event.type === 'settings') {
      this.strings = stringsFor(event.settings.language, app.getLocale());
      void this.refreshTray();
    } else if (event.type === 'profiles-changed') {
      void this.refreshTray();
    }
  }

  /** One registry change: a notification, minimize on connect, and the tray when the state moved. */
  private async onTunnelChange({ id, before, after }: TunnelChange): Promise<void> {
    // Byte counts arrive every second: only a change of state (or owner) is news.
    if (before?.snapshot?.state === after?.snapshot?.state && before?.owner === after?.owner) return;
    const profile = await this.service?.profileById(id);
    const reaction = profile ? reactionTo(before, after, profile.name, this.strings, profile.minimizeOnConnect) : {};
    if (reaction.notify && Notification.isSupported()) {
      new Notification({ title: reaction.notify.title, body: reaction.notify.body, silent: true }).show();
    }
    if (reaction.minimize && this.win && !this.win.isDestroyed() && this.win.isVisible()) {
      // With a tray the window goes there; it is one click away in the menu.
      if (this.tray) this.win.hide();
      else this.win.minimize();
    }
    await this.refreshTray();
  }

  private createTray(root: string): TrayController | undefined {
    const iconPath = (state: TrayIconState) => path.join(root, 'assets/tray', `${state}.png`);
    try {
      return new TrayController({
        createTray: (icon) => withTrayProbe(new Tray(icon)),
        buildMenu: (template) => Menu.buildFromTemplate(template),
        iconPath,
        actions: {
          connect: (name) => void this.trayCall(() => this.service!.handlers.connect({ name })),
          disconnect: (name) => void this.trayCall(() => this.service!.handlers.disconnect({ name })),
          open: () => this.showWindow(),
          quit: () => app.quit(),
        },
      });
    } catch (err) {
      // Some Linux desktops have no tray; the window then is the only way in.
      console.error(`ferry: no tray: ${describeError(err)}`);
      return undefined;
    }
  }

  /** A tray action that fails (e.g. a password is needed) shows the window, where the prompt or error is. */
  private async trayCall(work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (err) {
      this.showWindow();
      if (Notification.isSupported()) new Notification({ title: 'Ferry', body: describeError(err) }).show();
    }
  }

  private async refreshTray(): Promise<void> {
    if (!this.tray || !this.service) return;
    const entries = await this.service.trayEntries().catch(() => []);
    this.tray.update(entries, this.strings);
  }

  // ---- files, dialogs, settings -----------------------------------------------------

  private async openFiles(paths: string[]): Promise<void> {
    if (paths.length === 0) return;
    const { files, problems } = await readImportFiles(paths);
    if (problems.length > 0) {
      void dialog.showMessageBox({ type: 'warning', title: 'Ferry', message: 'Some files could not be opened', detail: problems.join('\n') });
    }
    if (files.length === 0) return;
    this.showWindow();
    this.send({ type: 'open-import', files });
  }

  private async chooseSavePath(suggested: string): Promise<string | undefined> {
    const options = { defaultPath: path.join(app.getPath('downloads'), suggested), filters: [{ name: 'Log', extensions: ['log', 'txt'] }] };
    const result = this.win && !this.win.isDestroyed() ? await dialog.showSaveDialog(this.win, options) : await dialog.showSaveDialog(options);
    return result.canceled || !result.filePath ? undefined : result.filePath;
  }

  private async applySettings(next: Settings, previous: Settings): Promise<void> {
    if (next.startAtLogin === previous.startAtLogin) return;
    if (process.platform === 'linux') {
      await setLinuxAutostart(next.startAtLogin, launchCommand());
    } else {
      app.setLoginItemSettings({ openAtLogin: next.startAtLogin, args: [HIDDEN_FLAG] });
    }
  }

  // ---- shutdown -----------------------------------------------------------------------

  /** Quit: every tunnel is taken down first (a VPN left running with no UI would surprise). */
  private async shutdown(): Promise<void> {
    this.stopPower?.();
    await Promise.race([this.service?.dispose().catch(() => {}), new Promise((resolve) => setTimeout(resolve, QUIT_GRACE_MS))]);
    this.tray?.destroy();
    this.shutDown = true;
    app.quit();
  }

  private fatal(err: unknown): void {
    dialog.showErrorBox('Ferry cannot start', describeError(err));
    app.exit(1);
  }
}

/** macOS needs an application menu for Cmd+C / Cmd+V in text fields and Cmd+Q. */
function macMenu(): MenuItemConstructorOptions[] {
  return [{ role: 'appMenu' }, { role: 'editMenu' }, { role: 'windowMenu' }];
}

runMain();
