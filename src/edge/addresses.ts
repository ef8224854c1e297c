import { BlockList, isIP } from 'node:net';

/** An IP literal and a port, as `HOST:PORT` (`[v6]:PORT` for IPv6) names them. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * Reads `HOST:PORT` (`[::1]:PORT` for IPv6) with HOST an IP literal: names resolve however DNS
 * says, and a report port or an edge bound to the wrong interface is worse than an error.
 * `minPort` 0 admits "any free port" (tests). Throws a message saying what is wrong.
 */
export function parseHostPort(value: string, minPort = 1): HostPort {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(value.trim());
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!match || host === undefined || isIP(host) === 0 || (match[1] && isIP(host) !== 6)) {
    throw new Error(`'${value}' is not HOST:PORT with HOST an IP address ([::1]:PORT for IPv6)`);
  }
  if (!Number.isInteger(port) || port < minPort || port > 65535) {
    throw new Error(`'${value}' has a port outside ${minPort}-65535`);
  }
  return { host, port };
}

/** `HOST:PORT` as nginx and URLs write it (IPv6 in brackets). */
export function formatHostPort({ host, port }: HostPort): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/**
 * Reads a comma-separated list of addresses and CIDRs (`127.0.0.1,10.0.0.0/8,::1`) into a
 * BlockList, node's own matcher for them. Throws naming the first entry that is neither.
 */
export function parseSenders(value: string): BlockList {
  const list = new BlockList();
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) throw new Error('no address or CIDR given');
  for (const entry of entries) {
    const [address = '', prefix, extra] = entry.split('/');
    const family = isIP(address);
    const bits = prefix === undefined ? undefined : Number(prefix);
    const maxBits = family === 6 ? 128 : 32;
    if (
      family === 0 ||
      extra !== undefined ||
      (bits !== undefined && (!/^\d{1,3}$/.test(prefix ?? '') || bits > maxBits))
    ) {
      throw new Error(`'${entry}' is not an IP address or CIDR (10.0.0.0/8, fd00::/8)`);
    }
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, bits, type);
  }
  return list;
}

/** Whether `address` (as a socket reports it; IPv4-mapped IPv6 too) is on the list. */
export function senderAllowed(list: BlockList, address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const plain = mapped ?? address;
  const family = isIP(plain);
  if (family === 0) return false;
  return list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
}
