/**
 * Who is on the other end of a unix socket, as the kernel says — never as the caller
 * says. Node cannot read SO_PEERCRED (Linux) or LOCAL_PEERCRED (macOS) itself, so this
 * calls libc through `koffi`, a maintained FFI library whose prebuilt binaries ship inside
 * its npm package (no compiler at install time, unlike a node-gyp addon of our own).
 *
 * macOS: getsockopt(fd, SOL_LOCAL, LOCAL_PEERCRED) fills a `struct xucred` (sys/ucred.h):
 * `u_int cr_version; uid_t cr_uid; short cr_ngroups; gid_t cr_groups[NGROUPS]` with
 * NGROUPS 16, where cr_groups[0] is the effective gid (what getpeereid() returns as the
 * gid; Apple's getpeereid is this same call). SOL_LOCAL is 0 and LOCAL_PEERCRED 0x001
 * (sys/un.h). The kernel records at most 16 groups: a user in more groups than that may
 * find the helper's group cut off, and is then refused like a non-member.
 */
import type { Socket } from 'node:net';
import koffi from 'koffi';

export interface PeerCredentials {
  uid: number;
  gid: number;
  /** Supplementary groups at connect time (Linux SO_PEERGROUPS, macOS xucred); decide who may start a session. */
  groups: number[];
  /** Linux only; informational (pids are reused), never used for authorisation. */
  pid?: number;
}

type Reader = (fd: number) => PeerCredentials;

function linuxReader(): Reader {
  const libc = koffi.load('libc.so.6');
  const ucred = koffi.struct('ferry_ucred', { pid: 'int32', uid: 'uint32', gid: 'uint32' });
  const getsockopt = libc.func('int getsockopt(int fd, int level, int name, _Out_ ferry_ucred *value, _Inout_ uint32 *length)');
  const getsockoptBytes = libc.func('getsockopt', 'int', ['int', 'int', 'int', 'void *', koffi.inout(koffi.pointer('uint32'))]);
  const SOL_SOCKET = 1;
  const SO_PEERCRED = 17;
  const SO_PEERGROUPS = 59; // Linux 4.13+
  const ERANGE = 34;
  /** The peer's supplementary groups, captured by the kernel at connect(); bounded by NGROUPS_MAX. */
  const peerGroups = (fd: number): number[] => {
    for (let slots = 64; slots <= 65536; slots *= 4) {
      const buffer = Buffer.alloc(slots * 4);
      const length = [buffer.length];
      if (getsockoptBytes(fd, SOL_SOCKET, SO_PEERGROUPS, buffer, length) === 0) {
        return [...new Uint32Array(buffer.buffer, buffer.byteOffset, Math.floor(length[0]! / 4))];
      }
      if (koffi.errno() !== ERANGE) break;
    }
    throw new Error('getsockopt(SO_PEERGROUPS) failed');
  };
  return (fd) => {
    const value: { pid?: number; uid?: number; gid?: number } = {};
    const length = [koffi.sizeof(ucred)];
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, value, length) !== 0 || value.uid === undefined || value.gid === undefined) {
      throw new Error('getsockopt(SO_PEERCRED) failed');
    }
    return { uid: value.uid, gid: value.gid, groups: peerGroups(fd), ...(value.pid ? { pid: value.pid } : {}) };
  };
}

/** macOS `struct xucred`: its layout and the constants to ask for it (see the header). */
export const XUCRED = Object.freeze({
  SOL_LOCAL: 0,
  LOCAL_PEERCRED: 0x001,
  VERSION: 0,
  NGROUPS: 16,
  /** cr_version (4) + cr_uid (4) + cr_ngroups (2, padded to 4) + 16 × gid_t (4). */
  SIZE: 12 + 16 * 4,
  UID_OFFSET: 4,
  NGROUPS_OFFSET: 8,
  GROUPS_OFFSET: 12,
});

/**
 * Reads the kernel's `struct xucred` (little-endian on every Mac Node runs on). Anything
 * that is not a version-0 record of the full size, with 1 to 16 groups, is refused: the
 * caller is then refused too.
 */
export function parseXucred(buffer: Buffer, length: number): PeerCredentials {
  if (length !== XUCRED.SIZE || buffer.length < XUCRED.SIZE) throw new Error(`LOCAL_PEERCRED returned ${length} bytes, not ${XUCRED.SIZE}`);
  const version = buffer.readUInt32LE(0);
  if (version !== XUCRED.VERSION) throw new Error(`LOCAL_PEERCRED returned xucred version ${version}`);
  const ngroups = buffer.readInt16LE(XUCRED.NGROUPS_OFFSET);
  if (ngroups < 1 || ngroups > XUCRED.NGROUPS) throw new Error(`LOCAL_PEERCRED returned ${ngroups} groups`);
  const groups = Array.from({ length: ngroups }, (_, i) => buffer.readUInt32LE(XUCRED.GROUPS_OFFSET + 4 * i));
  return { uid: buffer.readUInt32LE(XUCRED.UID_OFFSET), gid: groups[0]!, groups };
}

function darwinReader(): Reader {
  const libc = koffi.load('libSystem.B.dylib');
  const getsockopt = libc.func('getsockopt', 'int', ['int', 'int', 'int', 'void *', koffi.inout(koffi.pointer('uint32'))]);
  return (fd) => {
    const buffer = Buffer.alloc(XUCRED.SIZE);
    const length = [buffer.length];
    if (getsockopt(fd, XUCRED.SOL_LOCAL, XUCRED.LOCAL_PEERCRED, buffer, length) !== 0) throw new Error('getsockopt(LOCAL_PEERCRED) failed');
    return parseXucred(buffer, length[0]!);
  };
}

/** The reader for a platform; the rest are refused (Windows uses OpenVPN's interactive service, not this helper). */
export function readerFor(platform: NodeJS.Platform): Reader {
  if (platform === 'linux') return linuxReader();
  if (platform === 'darwin') return darwinReader();
  throw new Error(`peer credentials are not supported on ${platform}`);
}

let reader: Reader | undefined;

/** The kernel's record of the peer; throws when it cannot be read (the caller is then refused). */
export function peerCredentials(socket: Socket): PeerCredentials {
  // libuv keeps the descriptor on the handle; there is no public accessor for it.
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the connection has no file descriptor');
  reader ??= readerFor(process.platform);
  return reader(fd);
}
