/** CPU priority for the bench and everything it starts, for measuring on a machine shared with others. */
import { readFileSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';

const AUTOGROUP = '/proc/self/autogroup';

/** The nice value of this process's scheduling autogroup, or undefined without autogroups. */
function autogroupNice(): number | undefined {
  try {
    const match = /nice (-?\d+)/.exec(readFileSync(AUTOGROUP, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sets the nice value of this process, which every process started afterwards inherits, so the
 * targets and the generators get the same share. Where the kernel groups processes by session
 * (autogroups), nice only orders processes inside one session, so the session's group gets the
 * value too, and its old value back when the bench exits. Throws when not permitted.
 */
export function raisePriority(nice: number): void {
  setPriority(nice);
  const before = autogroupNice();
  if (before === undefined || before === nice) return;
  writeFileSync(AUTOGROUP, String(nice));
  process.once('exit', () => {
    try {
      writeFileSync(AUTOGROUP, String(before));
    } catch {
      // The session keeps the bench's value; nothing else to do while exiting.
    }
  });
}
