/**
 * The contract's channel names and wire constants as plain values, for the preload: it
 * runs sandboxed and is bundled on its own, so it must not pull in zod and the schemas
 * just to learn the names. The type checks below fail the build if this list and
 * contract.ts ever disagree (a unit test compares the values too).
 */
import type { Channel } from './contract.js';

export const CHANNELS = [
  'listProfiles',
  'previewImport',
  'saveImport',
  'certificates',
  'updateProfile',
  'removeProfile',
  'connect',
  'disconnect',
  'answerPrompt',
  'logs',
  'exportLogs',
  'getSettings',
  'setSettings',
  'appInfo',
] as const satisfies readonly Channel[];

// Every contract channel is listed: a missing one makes this `never` and the assignment fail.
type Missing = Exclude<Channel, (typeof CHANNELS)[number]>;
const everyChannelListed: [Missing] extends [never] ? true : Missing = true;
void everyChannelListed;

/** Same values as contract.ts's IPC_INVOKE_PREFIX / IPC_EVENT_CHANNEL (asserted by a test). */
export const INVOKE_PREFIX = 'ferry:';
export const EVENT_CHANNEL = 'ferry:event';
