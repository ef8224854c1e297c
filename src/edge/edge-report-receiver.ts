import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import type { BlockList } from 'node:net';
import { isIP } from 'node:net';
import { type HostPort, parseSenders, senderAllowed } from './addresses.js';
import { parseEdgeDatagram } from './edge-report.js';
import type { EdgeReports } from './edge-reports.js';

export const EDGE_REPORT_DEFAULTS = {
  /** Who may report: the edges' addresses; loopback alone until told otherwise. */
  from: '127.0.0.1',
  /**
   * Socket receive buffer: nginx sends one datagram per request, and a burst of viewers (a
   * lecture starting) arrives while the event loop serves them; the kernel caps it at
   * net.core.rmem_max.
   */
  receiveBufferBytes: 4 * 1024 * 1024,
} as const;

export interface EdgeReportReceiverOptions {
  /** Where to listen (UDP); port 0 picks a free one. */
  readonly listen: HostPort;
  /** Senders whose reports count (default EDGE_REPORT_DEFAULTS.from). */
  readonly from?: BlockList;
  readonly receiveBufferBytes?: number;
}

/**
 * The origin's syslog (UDP) receiver for the edge tier's access-log lines: each datagram from
 * an allowed sender that parses is counted into `reports`; anything else is counted as dropped.
 * Written on node:dgram rather than a syslog library: nginx sends one known line format per
 * datagram, and reading it is the few lines of edge-report.ts.
 */
export class EdgeReportReceiver {
  private socket: Socket | undefined;
  private readonly from: BlockList;

  constructor(
    readonly reports: EdgeReports,
    private readonly options: EdgeReportReceiverOptions,
  ) {
    this.from = options.from ?? parseSenders(EDGE_REPORT_DEFAULTS.from);
  }

  /** Binds the socket; resolves the address it listens on. */
  async start(): Promise<HostPort> {
    if (this.socket) return this.address();
    const { host, port } = this.options.listen;
    const socket = createSocket({
      type: isIP(host) === 6 ? 'udp6' : 'udp4',
      recvBufferSize: this.options.receiveBufferBytes ?? EDGE_REPORT_DEFAULTS.receiveBufferBytes,
    });
    socket.on('message', (message, sender) => this.receive(message, sender.address));
    socket.bind(port, host);
    try {
      // Rejects with the bind error (address in use, not an address of this host).
      await once(socket, 'listening');
    } catch (error) {
      socket.close();
      throw error;
    }
    // Receiving has no error a sender can cause; one from the system must not crash the origin.
    socket.on('error', () => {});
    this.socket = socket;
    return this.address();
  }

  address(): HostPort {
    if (!this.socket) throw new Error('the edge report receiver is not listening');
    const { address, port } = this.socket.address();
    return { host: address, port };
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return;
    const closed = once(socket, 'close');
    socket.close();
    await closed;
  }

  private receive(message: Buffer, sender: string): void {
    if (!senderAllowed(this.from, sender)) {
      this.reports.drop('sender');
      return;
    }
    const report = parseEdgeDatagram(message.toString('utf8'));
    if (!report) {
      this.reports.drop('malformed');
      return;
    }
    this.reports.record(report, sender);
  }
}
