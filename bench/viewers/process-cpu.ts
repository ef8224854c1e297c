/** CPU seconds of a process and all its descendants, read from /proc/<pid>/stat (Linux). */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    } catch {
      ticksPerSecond = 100; // USER_HZ on every mainstream Linux build
    }
    if (!Number.isFinite(ticksPerSecond) || ticksPerSecond <= 0) ticksPerSecond = 100;
  }
  return ticksPerSecond;
}

interface ProcStat {
  readonly ppid: number;
  readonly ticks: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited meanwhile
  }
  // Fields after "(comm)": state ppid ... utime(14) stime(15) cutime(16) cstime(17), numbered
  // from pid = 1. cutime/cstime hold children already reaped (an ffprobe the server ran), so
  // short-lived helpers count too; live children are counted by their own entries.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(rest[1]);
  const ticks = Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]);
  return { ppid, ticks };
}

/** utime+stime (seconds, reaped children included) summed over `rootPid` and its live descendants. */
export function processTreeCpuSeconds(rootPid: number): number {
  const stats = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (stat) stats.set(pid, stat);
  }
  const inTree = new Set<number>([rootPid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, stat] of stats) {
      if (!inTree.has(pid) && inTree.has(stat.ppid)) {
        inTree.add(pid);
        grew = true;
      }
    }
  }
  let ticks = 0;
  for (const pid of inTree) ticks += stats.get(pid)?.ticks ?? 0;
  return ticks / clockTicks();
}

/** utime+stime (seconds) of one process, all its threads; 0 once it has exited. */
export function processCpuSeconds(pid: number): number {
  return (readStat(pid)?.ticks ?? 0) / clockTicks();
}

/** CPU seconds (user + system, all threads) used so far by this bench process. */
export function selfCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

function machineTicks(): number[] {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  return line.trim().split(/\s+/).slice(1, 9).map(Number);
}

/** Busy CPU seconds of the whole machine (all cores, /proc/stat: everything but idle and iowait). */
export function machineBusyCpuSeconds(): number {
  const t = machineTicks();
  const total = t.reduce((a, b) => a + b, 0);
  return (total - (t[3] ?? 0) - (t[4] ?? 0)) / clockTicks();
}

/** CPU seconds spent in interrupts and softirqs (loopback TCP lands here, not on a process). */
export function machineIrqCpuSeconds(): number {
  const t = machineTicks();
  return ((t[5] ?? 0) + (t[6] ?? 0)) / clockTicks();
}
