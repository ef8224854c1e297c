import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * Checks the state database's write-ahead log (`vtp.db-wal`) before SQLite opens it. SQLite
 * replays frames while their salts match the log's header and their running checksum holds, and
 * stops at the first that does not, without a word (https://sqlite.org/fileformat2.html#walformat).
 * That is right for the tail a crash leaves (frames of a commit never finished), but a damaged
 * frame with commits after it drops those commits silently, and so does a log cut short: after a
 * SIGKILL the log holds most of the state, so the server would start with less than it had and
 * never say so. This finds those cases, so start-up can name them.
 */

const HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;
/** The header's magic: checksums over little-endian words (…82) or big-endian ones (…83). */
const MAGIC_LITTLE = 0x377f0682;
const MAGIC_BIG = 0x377f0683;

/** What is wrong with a write-ahead log, and what SQLite will make of it. */
export interface WalDamage {
  /** Why, for the log line. */
  readonly reason: string;
  /** Commits SQLite replays: those before the damage. */
  readonly keptCommits: number;
  /** Commits after the damage, which SQLite drops; undefined when nothing tells how many. */
  readonly lostCommits: number | undefined;
}

/** The damage in the log at `file`, or undefined when it is whole (or absent, or empty). */
export function checkWriteAheadLog(file: string): WalDamage | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return check(fd, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

function check(fd: number, size: number): WalDamage | undefined {
  if (size === 0) return undefined;
  const unreadable = (reason: string): WalDamage => ({
    reason,
    keptCommits: 0,
    lostCommits: undefined,
  });
  if (size < HEADER_BYTES) return unreadable(`it is shorter than its ${HEADER_BYTES}-byte header`);
  const header = read(fd, 0, HEADER_BYTES);
  const magic = header.getUint32(0);
  const pageSize = header.getUint32(8);
  const little = magic === MAGIC_LITTLE;
  const validPageSize = pageSize >= 512 && pageSize <= 65536 && (pageSize & (pageSize - 1)) === 0;
  if ((magic !== MAGIC_LITTLE && magic !== MAGIC_BIG) || !validPageSize) {
    return unreadable('its header is not a write-ahead log header');
  }
  let sum = checksum(header, 0, 24, [0, 0], little);
  if (sum[0] !== header.getUint32(24) || sum[1] !== header.getUint32(28)) {
    return unreadable('its header does not match its checksum');
  }
  const salts = [header.getUint32(16), header.getUint32(20)];
  const frameBytes = FRAME_HEADER_BYTES + pageSize;
  const frames = Math.floor((size - HEADER_BYTES) / frameBytes);
  let keptCommits = 0;
  let lostCommits = 0;
  let broken: number | undefined;
  for (let n = 0; n < frames; n++) {
    const frame = read(fd, HEADER_BYTES + n * frameBytes, frameBytes);
    const current = frame.getUint32(8) === salts[0] && frame.getUint32(12) === salts[1];
    const commit = frame.getUint32(4) !== 0;
    if (broken === undefined) {
      const next = checksum(
        frame,
        FRAME_HEADER_BYTES,
        frameBytes,
        checksum(frame, 0, 8, sum, little),
        little,
      );
      if (current && next[0] === frame.getUint32(16) && next[1] === frame.getUint32(20)) {
        sum = next;
        if (commit) keptCommits++;
        continue;
      }
      // Where SQLite stops. Frames of an older log after it are normal (a log is reused from
      // its start, not shortened); a commit of this log after it is one SQLite will drop.
      broken = n;
    }
    if (current && commit) lostCommits++;
  }
  if (broken !== undefined && lostCommits > 0) {
    return {
      reason: `frame ${broken + 1} of ${frames} does not match its checksum`,
      keptCommits,
      lostCommits,
    };
  }
  // A crash between the two writes of a frame (header, then page) leaves a header alone.
  const tail = (size - HEADER_BYTES) % frameBytes;
  if (broken === undefined && tail !== 0 && tail !== FRAME_HEADER_BYTES) {
    return {
      reason: `it ends inside frame ${frames + 1} (${tail} of its ${frameBytes} bytes): it was cut short`,
      keptCommits,
      lostCommits: undefined,
    };
  }
  return undefined;
}

function read(fd: number, offset: number, length: number): DataView {
  const bytes = Buffer.alloc(length);
  const got = readSync(fd, bytes, 0, length, offset);
  return new DataView(bytes.buffer, bytes.byteOffset, got);
}

/** SQLite's running checksum over the 32-bit words of `view` from `start` to `end`. */
function checksum(
  view: DataView,
  start: number,
  end: number,
  [s0, s1]: readonly number[],
  little: boolean,
): [number, number] {
  let a = s0 as number;
  let b = s1 as number;
  for (let i = start; i < end; i += 8) {
    a = (a + view.getUint32(i, little) + b) >>> 0;
    b = (b + view.getUint32(i + 4, little) + a) >>> 0;
  }
  return [a, b];
}
