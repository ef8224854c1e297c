/** Kernel TCP counters (Linux, this network namespace) that show a full listen queue. */
import { readFileSync } from 'node:fs';

function tcpExt(): Map<string, number> {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
  const rows = lines.filter((line) => line.startsWith('TcpExt:'));
  const names = rows[0]?.split(' ').slice(1) ?? [];
  const values = rows[1]?.split(' ').slice(1).map(Number) ?? [];
  return new Map(names.map((name, i) => [name, values[i] ?? 0]));
}

/**
 * ListenDrops: connections the kernel dropped at a listening socket, chiefly because its accept
 * queue (the listen backlog) was full; each costs the client a SYN retransmit (1 s, then 3 s…).
 * 0 where /proc/net/netstat cannot be read.
 */
export function listenDrops(): number {
  try {
    return tcpExt().get('ListenDrops') ?? 0;
  } catch {
    return 0;
  }
}
