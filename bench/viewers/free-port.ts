/** A TCP port on 127.0.0.1 that was free a moment ago (for servers that need a fixed port). */
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}

/** A UDP port on 127.0.0.1 that was free a moment ago (SRT listeners, syslog receivers). */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const { port } = socket.address();
  socket.close();
  await once(socket, 'close');
  return port;
}

/** Whether some socket of this machine is bound to UDP `port` (Linux: /proc/net/udp*). */
export function udpPortBound(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  return ['/proc/net/udp', '/proc/net/udp6'].some((table) => {
    const rows = readFileSync(table, 'utf8').split('\n').slice(1);
    // The second column is the local address, ADDRESS:PORT in hex.
    return rows.some((row) => `${row.trim().split(/\s+/)[1]} `.endsWith(hex));
  });
}
