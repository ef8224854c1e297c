import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, it } from 'node:test';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { Registry } from 'prom-client';
import { parseSenders } from '../../src/edge/addresses.js';
import { registerEdgeMetrics } from '../../src/edge/edge-metrics.js';
import { parseEdgeLine } from '../../src/edge/edge-report.js';
import { EdgeReportReceiver } from '../../src/edge/edge-report-receiver.js';
import { EdgeReports } from '../../src/edge/edge-reports.js';
import { waitFor } from '../helpers/wait.js';

function line(edge: string, cache: string, path: string, bytes = 100, session = '-') {
  const report = parseEdgeLine(`vtp1 ${edge} 200 ${cache} ${bytes} GET ${path} ${session}`);
  if (!report) throw new Error('test line does not parse');
  return report;
}

const SEGMENT = '/live/lecture/Low/3f9a0c2d1e4b-7.ts';
const PLAYLIST = '/live/lecture/Low/index.m3u8';

describe('edge report aggregation', () => {
  it('counts requests and bytes per edge, kind and outcome', () => {
    const reports = new EdgeReports(() => 5000);
    reports.record(line('a', 'MISS', SEGMENT, 1000), '10.0.0.1');
    reports.record(line('a', 'HIT', SEGMENT, 1000), '10.0.0.1');
    reports.record(line('a', 'HIT', SEGMENT, 1000), '10.0.0.1');
    reports.record(line('a', 'BYPASS', PLAYLIST, 230, 's1'), '10.0.0.1');
    reports.record(line('b', 'EXPIRED', PLAYLIST, 200), '10.0.0.2');
    reports.record(line('b', 'UPDATING', PLAYLIST, 200), '10.0.0.2');
    reports.record(line('b', '-', '/api/v1/streams/lecture', 50), '10.0.0.2');
    const [a, b] = reports.perEdge();
    assert.equal(a?.edge, 'a');
    assert.equal(a?.sender, '10.0.0.1');
    assert.equal(a?.lastReportAt, 5000);
    assert.deepEqual(a?.requests.segment, { hit: 2, stale: 0, miss: 1, bypass: 0, uncached: 0 });
    assert.deepEqual(a?.requests.playlist, { hit: 0, stale: 0, miss: 0, bypass: 1, uncached: 0 });
    assert.deepEqual(a?.bytes, { playlist: 230, segment: 3000, other: 0 });
    assert.deepEqual(b?.requests.playlist, { hit: 0, stale: 1, miss: 1, bypass: 0, uncached: 0 });
    assert.deepEqual(b?.requests.other, { hit: 0, stale: 0, miss: 0, bypass: 0, uncached: 1 });
  });

  it('counts the CDN hit rate from segments only: hits and stale served from a cache, misses from the origin', () => {
    const reports = new EdgeReports();
    assert.deepEqual(reports.counts(), { hits: 0, misses: 0 });
    reports.record(line('a', 'MISS', SEGMENT), 'x');
    reports.record(line('a', 'HIT', SEGMENT), 'x');
    reports.record(line('b', 'EXPIRED', SEGMENT), 'y');
    reports.record(line('b', 'STALE', SEGMENT), 'y');
    reports.record(line('b', 'HIT', SEGMENT), 'y');
    // Playlists and pass-through requests are not part of it.
    reports.record(line('a', 'HIT', PLAYLIST), 'x');
    reports.record(line('a', 'MISS', PLAYLIST), 'x');
    reports.record(line('a', 'BYPASS', PLAYLIST), 'x');
    reports.record(line('a', '-', '/api/v1/streams'), 'x');
    assert.deepEqual(reports.counts(), { hits: 3, misses: 2 });
  });

  it('tracks a bounded number of edges and counts the rest as dropped', () => {
    const reports = new EdgeReports(Date.now, 2);
    assert.equal(reports.record(line('a', 'HIT', SEGMENT), 'x'), true);
    assert.equal(reports.record(line('b', 'HIT', SEGMENT), 'x'), true);
    assert.equal(reports.record(line('c', 'HIT', SEGMENT), 'x'), false);
    assert.equal(reports.record(line('a', 'HIT', SEGMENT), 'x'), true);
    assert.equal(reports.perEdge().length, 2);
    assert.deepEqual(reports.dropped(), { malformed: 0, sender: 0, edges: 1 });
    assert.deepEqual(reports.counts(), { hits: 3, misses: 0 });
  });

  it('hands out copies: a reader cannot change the counts', () => {
    const reports = new EdgeReports();
    reports.record(line('a', 'HIT', SEGMENT), 'x');
    const copy = reports.perEdge()[0] as { requests: { segment: { hit: number } } };
    copy.requests.segment.hit = 99;
    assert.equal(reports.perEdge()[0]?.requests.segment.hit, 1);
  });
});

describe('edge metrics', () => {
  it('exposes requests, bytes, hit ratio, last report and drops as vtp_edge_* series', async () => {
    const reports = new EdgeReports(() => 7_000);
    reports.record(line('a', 'MISS', SEGMENT, 1000), 'x');
    reports.record(line('a', 'HIT', SEGMENT, 1000), 'x');
    reports.record(line('a', 'HIT', SEGMENT, 1000), 'x');
    reports.record(line('a', 'STALE', SEGMENT, 1000), 'x');
    reports.drop('malformed');
    const registry = new Registry();
    registerEdgeMetrics(registry, reports);
    const families = parsePrometheusTextFormat(await registry.metrics());
    const value = (name: string, labels: Record<string, string>) =>
      Number(
        families
          .find((f) => f.name === name)
          ?.metrics.find((m: any) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
          ?.value,
      );
    assert.equal(
      value('vtp_edge_requests_total', { edge: 'a', kind: 'segment', outcome: 'hit' }),
      2,
    );
    assert.equal(
      value('vtp_edge_requests_total', { edge: 'a', kind: 'segment', outcome: 'miss' }),
      1,
    );
    assert.equal(value('vtp_edge_bytes_total', { edge: 'a', kind: 'segment' }), 4000);
    assert.equal(value('vtp_edge_cache_hit_ratio', { edge: 'a' }), 0.75);
    assert.equal(value('vtp_edge_last_report_timestamp_seconds', { edge: 'a' }), 7);
    assert.equal(value('vtp_edge_reports_dropped_total', { reason: 'malformed' }), 1);
    // A second scrape reads the same totals, not twice them.
    const again = parsePrometheusTextFormat(await registry.metrics());
    const requests = again.find((f) => f.name === 'vtp_edge_requests_total');
    const hit = requests?.metrics.find(
      (m: any) => m.labels.kind === 'segment' && m.labels.outcome === 'hit',
    );
    assert.equal(Number(hit?.value), 2);
  });
});

describe('edge report receiver', () => {
  let receiver: EdgeReportReceiver | undefined;
  let client: Socket | undefined;
  afterEach(async () => {
    await receiver?.stop();
    client?.close();
    receiver = undefined;
    client = undefined;
  });

  function send(port: number, ...datagrams: string[]): void {
    client ??= createSocket('udp4');
    for (const datagram of datagrams) client.send(datagram, port, '127.0.0.1');
  }

  const datagram = (body: string) => `<190>Dec  6 22:08:44 vtp_edge: ${body}`;

  it('counts the datagrams of allowed senders and drops malformed ones', async () => {
    const reports = new EdgeReports();
    receiver = new EdgeReportReceiver(reports, { listen: { host: '127.0.0.1', port: 0 } });
    const { port } = await receiver.start();
    assert.ok(port > 0);
    send(
      port,
      datagram(`vtp1 a 200 MISS 10 GET ${SEGMENT} s1`),
      datagram(`vtp1 a 200 HIT 10 GET ${SEGMENT} s2`),
      datagram('not an edge line'),
      '<13>Dec  6 22:08:44 sshd[1]: something else',
    );
    await waitFor(
      async () => {
        const { malformed } = reports.dropped();
        return reports.counts().hits + reports.counts().misses === 2 && malformed === 2
          ? true
          : undefined;
      },
      5000,
      'two counted, two dropped',
      20,
    );
    assert.equal(reports.perEdge()[0]?.sender, '127.0.0.1');
  });

  it('drops reports from senders outside --edge-report-from', async () => {
    const reports = new EdgeReports();
    receiver = new EdgeReportReceiver(reports, {
      listen: { host: '127.0.0.1', port: 0 },
      from: parseSenders('10.0.0.0/8,::1'),
    });
    const { port } = await receiver.start();
    send(port, datagram(`vtp1 a 200 HIT 10 GET ${SEGMENT} -`));
    await waitFor(
      async () => (reports.dropped().sender === 1 ? true : undefined),
      5000,
      'a refused sender',
      20,
    );
    assert.deepEqual(reports.counts(), { hits: 0, misses: 0 });
    assert.equal(reports.perEdge().length, 0);
  });

  it('fails to start on an address it cannot bind, and stops twice quietly', async () => {
    const reports = new EdgeReports();
    const first = new EdgeReportReceiver(reports, { listen: { host: '127.0.0.1', port: 0 } });
    const { port } = await first.start();
    receiver = first;
    const second = new EdgeReportReceiver(reports, { listen: { host: '127.0.0.1', port } });
    await assert.rejects(second.start(), /EADDRINUSE/);
    await first.stop();
    await first.stop();
    const elsewhere = new EdgeReportReceiver(reports, { listen: { host: '192.0.2.1', port: 0 } });
    await assert.rejects(elsewhere.start(), /EADDRNOTAVAIL/);
  });
});

describe('senders list', () => {
  it('reads addresses and CIDRs of both families, naming a bad entry', () => {
    const list = parseSenders('127.0.0.1, 10.0.0.0/8,fd00::/8');
    assert.equal(list.check('10.1.2.3', 'ipv4'), true);
    assert.equal(list.check('11.1.2.3', 'ipv4'), false);
    assert.equal(list.check('fd00::5', 'ipv6'), true);
    for (const bad of ['', 'edge.example', '10.0.0.0/33', '10.0.0.0/8/1', '::1/129']) {
      assert.throws(
        () => parseSenders(bad),
        bad === '' ? /no address/ : new RegExp(bad.split('/')[0] ?? ''),
      );
    }
  });
});
