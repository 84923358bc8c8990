/**
 * The real ContractHandlers for the test host, on the real core, configured from the
 * environment the UI tests give the host process: $FERRY_HOME and $XDG_RUNTIME_DIR (the
 * client's state), the keyring's D-Bus session, and two stand-ins for what Electron's
 * main process would supply — the OS language ($FERRY_UI_SYSTEM_LANGUAGE, as
 * app.getLocale()) and the save dialog (export goes into $FERRY_UI_EXPORT_DIR).
 */
import path from 'node:path';
import { FerryClient } from '../../core/client.js';
import { ContractHandlers } from '../../electron/contract-handlers.js';

export async function createTestService(env: NodeJS.ProcessEnv = process.env): Promise<ContractHandlers> {
  const exportDir = env.FERRY_UI_EXPORT_DIR;
  const service = new ContractHandlers({
    client: new FerryClient({ env }),
    systemLanguage: env.FERRY_UI_SYSTEM_LANGUAGE ?? 'en-US',
    platform: process.platform,
    ...(exportDir ? { chooseSavePath: async (suggested: string) => path.join(exportDir, suggested) } : {}),
  });
  // As main does at start: tunnels of other Ferry processes (`ferry connect`) are followed.
  await service.start();
  return service;
}
