import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { freeUdpPort } from '../../bench/viewers/free-port.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { startServer } from '../../src/server.js';
import { call } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

describe('edge report settings', () => {
  it('are off by default and take loopback senders only', () => {
    const config = loadConfig({}, {});
    assert.equal(config.edgeReports, undefined);
    assert.equal(config.edgeReportFrom, '127.0.0.1');
  });

  it('come from flags or VTP_EDGE_REPORTS / VTP_EDGE_REPORT_FROM', () => {
    const fromEnv = loadConfig(
      {},
      { VTP_EDGE_REPORTS: '0.0.0.0:5140', VTP_EDGE_REPORT_FROM: '10.0.0.0/8' },
    );
    assert.deepEqual([fromEnv.edgeReports, fromEnv.edgeReportFrom], ['0.0.0.0:5140', '10.0.0.0/8']);
    const fromFlags = loadConfig(
      { 'edge-reports': '[::]:5141', 'edge-report-from': 'fd00::/8,10.1.2.3' },
      { VTP_EDGE_REPORTS: '0.0.0.0:5140' },
    );
    assert.deepEqual(
      [fromFlags.edgeReports, fromFlags.edgeReportFrom],
      ['[::]:5141', 'fd00::/8,10.1.2.3'],
    );
  });

  it('refuse an address that is not IP:PORT or a sender that is not an address or CIDR, naming the flag', () => {
    for (const [flags, message] of [
      [{ 'edge-reports': 'origin:5140' }, /--edge-reports \(VTP_EDGE_REPORTS\): 'origin:5140'/],
      [{ 'edge-reports': '0.0.0.0:0' }, /--edge-reports .* port outside 1-65535/],
      [{ 'edge-report-from': '10.0.0.0/40' }, /--edge-report-from \(VTP_EDGE_REPORT_FROM\): '10/],
    ] as const) {
      assert.throws(
        () => loadConfig(flags, {}),
        (error: unknown) => error instanceof ConfigError && message.test(error.message),
      );
    }
  });

  it('start a receiver with the server whose counts become the CDN hit rate, and stop it with the server', async () => {
    const port = await freeUdpPort();
    const server = await startServer(
      loadConfig(
        {
          port: '0',
          'rtmp-port': '0',
          'edge-reports': `127.0.0.1:${port}`,
          'log-level': 'silent',
        },
        {},
      ),
      { inMemory: true },
    );
    const client = createSocket('udp4');
    try {
      for (const cache of ['HIT', 'HIT', 'HIT', 'MISS']) {
        client.send(
          `<190>Dec  6 22:08:44 vtp_edge: vtp1 e1 200 ${cache} 10 GET /live/x/Low/a-1.ts -`,
          port,
          '127.0.0.1',
        );
      }
      const metrics = await waitFor(
        async () => {
          const body = (await call(`${server.url}/api/v1/distribution/metrics`, 'GET')).body;
          return body.cdn_hits + body.cdn_misses === 4 ? body : undefined;
        },
        5000,
        'four reports counted',
        20,
      );
      assert.equal(metrics.cdn_cache_hit_rate, 0.75);
    } finally {
      client.close();
      await server.close();
    }
    // Closed with the server: the port is free again.
    const again = createSocket('udp4');
    again.bind(port, '127.0.0.1');
    await once(again, 'listening');
    again.close();
  });
});
