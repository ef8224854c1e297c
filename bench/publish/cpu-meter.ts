/**
 * CPU seconds used by groups of processes over a window, from repeated readings of each
 * process's cumulative utime+stime (pure: the readings come in, deltas add up). A process's
 * first reading is its baseline; one that reads lower than before has exited (or its pid was
 * reused) and adds nothing.
 */
export class CpuMeter<Group extends string> {
  private readonly last = new Map<string, number>();
  private readonly totals = new Map<Group, number>();

  /** Takes one reading of `pid` (cumulative CPU seconds) for `group`. */
  take(group: Group, pid: number, cpuSeconds: number): void {
    const key = `${group}:${pid}`;
    const previous = this.last.get(key);
    this.last.set(key, cpuSeconds);
    if (previous === undefined || cpuSeconds < previous) return;
    this.totals.set(group, (this.totals.get(group) ?? 0) + (cpuSeconds - previous));
  }

  /** CPU seconds `group` used between its processes' first and last readings. */
  total(group: Group): number {
    return this.totals.get(group) ?? 0;
  }
}
