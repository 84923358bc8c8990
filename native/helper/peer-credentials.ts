/**
 * Who is on the other end of a unix socket, as the kernel says — never as the caller
 * says. Node cannot read SO_PEERCRED (Linux) or getpeereid() (macOS) itself, so this calls
 * libc through `koffi`, a maintained FFI library whose prebuilt binaries ship inside its
 * npm package (no compiler at install time, unlike a node-gyp addon of our own).
 */
import type { Socket } from 'node:net';
import koffi from 'koffi';

export interface PeerCredentials {
  uid: number;
  gid: number;
  /** Supplementary groups at connect time (Linux SO_PEERGROUPS); decides who may start a session. */
  groups: number[];
  /** Linux only; informational (pids are reused), never used for authorisation. */
  pid?: number;
}

type Reader = (fd: number) => PeerCredentials;

let reader: Reader | undefined;

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

function darwinReader(): Reader {
  const libc = koffi.load('libSystem.B.dylib');
  const getpeereid = libc.func('int getpeereid(int fd, _Out_ uint32 *uid, _Out_ uint32 *gid)');
  return (fd) => {
    const uid = [0];
    const gid = [0];
    if (getpeereid(fd, uid, gid) !== 0) throw new Error('getpeereid failed');
    // Untested here: LOCAL_PEERCRED's xucred carries the groups on macOS; until it is
    // read, only the primary group counts there.
    return { uid: uid[0]!, gid: gid[0]!, groups: [] };
  };
}

/** The kernel's record of the peer; throws when it cannot be read (the caller is then refused). */
export function peerCredentials(socket: Socket): PeerCredentials {
  // libuv keeps the descriptor on the handle; there is no public accessor for it.
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the connection has no file descriptor');
  if (!reader) {
    if (process.platform === 'linux') reader = linuxReader();
    else if (process.platform === 'darwin') reader = darwinReader();
    else throw new Error(`peer credentials are not supported on ${process.platform}`);
  }
  return reader(fd);
}
