/**
 * What a killed ferry command leaves in the profile store: `ferry import` writes a new
 * profile (key included) into profiles/.incoming-<id>/ and renames it into place, `ferry
 * remove` renames a profile to .removed-<id>/ before deleting it. SIGKILL between the two
 * steps used to leave those directories — a copy of the key, plaintext if the source was —
 * forever, skipped by list() and cleaned by nothing. The next command that takes the
 * store's lock removes them: while it holds the lock no other command can be writing one,
 * so any it finds is a leftover (staleness is a matter of the lock, not of time).
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { importFiles, type ImportedProfile } from '../../core/profile/import.js';
import { ProfileStore } from '../../core/profile/store.js';
import { NOW, makeCa, makeClient, type Identity } from '../fixtures/import/generate.js';
import { importWorkspace } from '../fixtures/import/workspace.js';

const workspace = importWorkspace('ferry-store-');
let client: Identity;
let imported: ImportedProfile;
let store: ProfileStore;
let n = 0;

beforeAll(async () => {
  const ca = await makeCa({ cn: 'Store CA' });
  client = await makeClient(ca, { cn: 'heidi' });
  const paths = await workspace.files({ 'ca.crt': ca.certPem, 'client.crt': client.certPem, 'client.key': client.keyPem });
  imported = await importFiles(paths, { gateway: { host: 'vpn.example.com' }, now: NOW });
});

beforeEach(() => {
  store = new ProfileStore(path.join(workspace.dir, `home${++n}`));
});

/** A profile directory as a killed command leaves it: the key, a certificate, a half-written temp file. */
async function leftover(name: string): Promise<void> {
  const at = path.join(store.profilesDir, name);
  await mkdir(at, { recursive: true, mode: 0o700 });
  await writeFile(path.join(at, 'client.key'), client.keyPem, { mode: 0o600 });
  await writeFile(path.join(at, 'ca.crt'), 'x');
  await writeFile(path.join(at, '.client.crt.0123456789ab.tmp'), 'half');
}

const entries = async () => (await readdir(store.profilesDir)).sort();

describe('leftovers of killed commands', () => {
  it.each([
    ['import', (s: ProfileStore) => s.add({ ...imported, draft: { ...imported.draft, name: 'second' } })],
    ['change', (s: ProfileStore) => s.update('first', { reconnectTimeoutSec: 30 })],
    ['removal', (s: ProfileStore) => s.remove('first')],
  ])('are removed by the next %s', async (_label, next) => {
    const first = await store.add({ ...imported, draft: { ...imported.draft, name: 'first' } });
    await leftover('.incoming-heidi-a1b2c3');
    await leftover('.removed-old-d4e5f6');
    await next(store);
    expect((await entries()).filter((e) => e.startsWith('.'))).toEqual([]);
    expect((await store.list()).errors).toEqual([]);
    if (_label !== 'removal') expect((await entries())).toContain(first.id);
  });

  it('leave everything else alone', async () => {
    const first = await store.add({ ...imported, draft: { ...imported.draft, name: 'first' } });
    await mkdir(path.join(store.profilesDir, 'notes'));
    await leftover('.incoming-x');
    await store.update('first', { autoConnect: true });
    expect(await entries()).toEqual([first.id, 'notes'].sort());
  });
});
