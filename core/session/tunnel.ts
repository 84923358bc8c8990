/**
 * A tunnel as the session registry (registry.ts) publishes it: the schema the app's IPC
 * contract validates with. Its own module so that the registry, which `ferry profiles` and
 * `ferry status` load, loads no zod until a session's reply has to be checked.
 */
import { z } from 'zod';
import { SessionSnapshotSchema } from './snapshot.js';

export const TunnelOwnerSchema = z.enum(['here', 'other-process', 'helper', 'ended']);
export type TunnelOwner = z.infer<typeof TunnelOwnerSchema>;

export const TunnelSchema = z.object({
  id: z.string(),
  /** The registry's change counter when this entry last changed. */
  rev: z.number().int(),
  owner: TunnelOwnerSchema,
  /** other-process: which process. */
  pid: z.number().int().optional(),
  /** What the session last published; absent for a helper-kept tunnel nobody reports on. */
  snapshot: SessionSnapshotSchema.optional(),
});
export type Tunnel = z.infer<typeof TunnelSchema>;
