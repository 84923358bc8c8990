// electron-builder afterPack hook: flips Electron's fuses in the packaged binary, before
// it is signed (electron-builder signs after this hook). With these, the shipped app
// cannot be turned into a general Node.js runtime (ELECTRON_RUN_AS_NODE, NODE_OPTIONS,
// --inspect), only runs the app from its own asar, which is checked against the hash
// embedded at packaging, and encrypts its cookies at rest. Fuses Ferry does not use
// (file:// extra privileges, a browser-specific V8 snapshot) are off.
'use strict';
const path = require('node:path');
const { flipFuses, FuseV1Options, FuseVersion } = require('@electron/fuses');

const FUSES = Object.freeze({
  [FuseV1Options.RunAsNode]: false,
  [FuseV1Options.EnableCookieEncryption]: true,
  [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
  [FuseV1Options.EnableNodeCliInspectArguments]: false,
  [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: true,
  [FuseV1Options.OnlyLoadAppFromAsar]: true,
  [FuseV1Options.LoadBrowserProcessSpecificV8Snapshot]: false,
  [FuseV1Options.GrantFileProtocolExtraPrivileges]: false,
});

/** Where the Electron binary is in the packed app (as electron-builder's own fuse step finds it). */
function electronBinary(context) {
  const { appOutDir, electronPlatformName, packager } = context;
  switch (electronPlatformName) {
    case 'darwin':
    case 'mas':
      return path.join(appOutDir, `${packager.appInfo.productFilename}.app`);
    case 'win32':
      return path.join(appOutDir, `${packager.appInfo.productFilename}.exe`);
    default:
      return path.join(appOutDir, packager.executableName);
  }
}

async function afterPack(context) {
  const binary = electronBinary(context);
  const mac = context.electronPlatformName === 'darwin' || context.electronPlatformName === 'mas';
  // Flipping bytes breaks the ad-hoc signature Apple silicon needs to run at all; redo it
  // (a real signature, when configured, replaces it afterwards).
  await flipFuses(binary, { version: FuseVersion.V1, resetAdHocDarwinSignature: mac, ...FUSES });
  console.log(`  • fuses flipped  ${path.relative(process.cwd(), binary)}`);
}

module.exports = afterPack;
module.exports.default = afterPack;
module.exports.FUSES = FUSES;
module.exports.electronBinary = electronBinary;
