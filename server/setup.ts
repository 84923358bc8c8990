/** `ferry-server init` and `ferry-server set`: create and change the SSL server. */
import { randomBytes } from 'node:crypto';
import { InputError } from '../core/util/errors.js';
import { createCa, issueCertificate, loadCa, toPem } from './pki.js';
import { COMPRESSION_WARNING, DEFAULTS, diffSettings, validateSettings, type KeyType, type Settings } from './settings.js';
import type { Index, StateStore } from './store.js';

/** Options as given on the command line; absent means "default" (init) or "unchanged" (set). */
export interface SettingsInput {
  name?: string;
  host?: string;
  port?: number;
  proto?: 'tcp' | 'udp';
  pool?: string;
  subnets?: string[];
  dns?: string[];
  cipher?: string;
  compress?: boolean;
  twoFactor?: boolean;
  maxClients?: number;
  keyType?: KeyType;
  remoteRandom?: boolean;
  /** Mbit/s; null turns the cap off. */
  bandwidthMbps?: number | null;
}

export interface SetupResult {
  settings: Settings;
  warnings: string[];
  /** Accounts whose bundle must be downloaded again (set only). */
  staleAccounts: string[];
  changed: string[];
}

export async function initServer(state: StateStore, input: SettingsInput): Promise<SetupResult> {
  if (!input.host) throw new InputError('--host is required: the public host name or address clients dial');
  const draft = validateSettings({
    version: 1,
    name: input.name ?? 'ferry',
    host: input.host,
    port: input.port ?? DEFAULTS.port,
    proto: input.proto ?? DEFAULTS.proto,
    pool: input.pool ?? DEFAULTS.pool,
    subnets: input.subnets ?? [],
    dns: input.dns ?? [],
    cipher: (input.cipher ?? DEFAULTS.cipher) as Settings['cipher'],
    compress: input.compress ?? DEFAULTS.compress,
    twoFactor: input.twoFactor ?? DEFAULTS.twoFactor,
    maxClients: input.maxClients ?? DEFAULTS.maxClients,
    keyType: input.keyType ?? DEFAULTS.keyType,
    serverCommonName: `ferry-gateway-${randomBytes(4).toString('hex')}`,
    ...(typeof input.bandwidthMbps === 'number' ? { bandwidthMbps: input.bandwidthMbps } : {}),
    profileRevision: 0,
  });
  await state.refuseIfTaken();
  await state.prepare();
  return state.withLock(async () => {
    await state.refuseIfTaken();
    // Everything below is overwritten by a retry until settings, the commit point, exist.
    const ca = await createCa(`Ferry CA (${draft.name})`, draft.keyType);
    const authority = await loadCa(ca.certPem, ca.keyPem);
    const server = await issueCertificate({ kind: 'server', commonName: draft.serverCommonName, keyType: draft.keyType, ca: authority });
    await state.writePki({
      caCert: ca.certPem,
      caKey: ca.keyPem,
      serverCert: server.certPem,
      serverKey: server.keyPem,
      authToken: toPem(randomBytes(128), 'OpenVPN auth-token server key'),
    });
    const index: Index = { version: 1, crlNumber: 1, accounts: [], revoked: [] };
    await state.ensureCrlCurrent(index, authority, true);
    await state.writeIndex(index);
    await state.writeSettings(draft);
    return { settings: draft, warnings: draft.compress ? [COMPRESSION_WARNING] : [], staleAccounts: [], changed: [] };
  });
}

export async function updateServer(state: StateStore, input: SettingsInput): Promise<SetupResult> {
  if (input.keyType) throw new InputError('--key-type can only be chosen at init: the CA key cannot change');
  await state.readSettings(); // clear error when not initialised
  return state.withLock(async () => {
    const before = await state.readSettings();
    const index = await state.readIndex();
    const { bandwidthMbps, ...rest } = input;
    const merged: Settings = { ...before, ...definedOnly(rest), cipher: (input.cipher ?? before.cipher) as Settings['cipher'] };
    if (bandwidthMbps === null) delete merged.bandwidthMbps;
    else if (bandwidthMbps !== undefined) merged.bandwidthMbps = bandwidthMbps;
    const after = validateSettings(merged);
    const { profileFields, frozenFields } = diffSettings(before, after);
    const active = index.accounts.filter((a) => a.state === 'active');
    if (frozenFields.length > 0 && active.length > 0) {
      const names = active.slice(0, 5).map((a) => a.name).join(', ') + (active.length > 5 ? ', …' : '');
      throw new InputError(
        `cannot change ${frozenFields.join(' and ')} while ${active.length} client account(s) exist (${names}); revoke them first, or create a new server`,
      );
    }
    const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => JSON.stringify(after[k as keyof Settings]) !== JSON.stringify(before[k as keyof Settings]));
    if (changed.length === 0) return { settings: before, warnings: [], staleAccounts: [], changed };
    const next = { ...after, profileRevision: before.profileRevision + (profileFields.length > 0 ? 1 : 0) };
    await state.writeSettings(next);
    const staleAccounts = profileFields.length === 0 ? [] : active.filter((a) => a.bundleRevision < next.profileRevision).map((a) => a.name);
    const warnings = next.compress && !before.compress ? [COMPRESSION_WARNING] : [];
    const withoutPassword = active.filter((a) => !a.passwordHash).map((a) => a.name);
    if (next.twoFactor && !before.twoFactor && withoutPassword.length > 0) {
      warnings.push(`two-factor is now on; these accounts have no password yet, give each one with "ferry-server client passwd ACCOUNT": ${withoutPassword.join(', ')}`);
    }
    return { settings: next, warnings, staleAccounts, changed };
  });
}

function definedOnly(input: Omit<SettingsInput, 'bandwidthMbps'>): Partial<Settings> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) if (value !== undefined) out[key] = value;
  return out as Partial<Settings>;
}
