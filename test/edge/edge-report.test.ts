import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEdgeDatagram, parseEdgeLine, requestKind } from '../../src/edge/edge-report.js';

/** A datagram exactly as nginx 1.22 sends it with `tag=vtp_edge,nohostname`. */
const DATAGRAM =
  '<190>Dec  6 22:08:44 vtp_edge: vtp1 edge-a:8081 200 MISS 100014 GET /live/x/Low/3f9a0c2d1e4b-1.ts s0';

describe('edge report parser', () => {
  it('reads a syslog datagram of the edge format, with or without the host name', () => {
    const expected = {
      edge: 'edge-a:8081',
      status: 200,
      outcome: 'miss',
      cacheStatus: 'MISS',
      bytes: 100014,
      method: 'GET',
      path: '/live/x/Low/3f9a0c2d1e4b-1.ts',
      kind: 'segment',
      session: 's0',
    };
    assert.deepEqual(parseEdgeDatagram(DATAGRAM), expected);
    assert.deepEqual(
      parseEdgeDatagram(DATAGRAM.replace('vtp_edge:', 'edge-host vtp_edge:')),
      expected,
    );
  });

  it('maps every nginx cache status onto where the bytes came from', () => {
    // Stated here, not imported: a wrong entry in the module's own table must fail this.
    const expected = {
      HIT: 'hit',
      REVALIDATED: 'hit',
      STALE: 'stale',
      UPDATING: 'stale',
      MISS: 'miss',
      EXPIRED: 'miss',
      BYPASS: 'bypass',
      '-': 'uncached',
    };
    const outcomes = Object.fromEntries(
      Object.keys(expected).map((s) => [
        s,
        parseEdgeLine(`vtp1 e 200 ${s} 10 GET /live/x/Low/a.ts -`)?.outcome,
      ]),
    );
    assert.deepEqual(outcomes, expected);
  });

  it('tells playlists, segments and init sections, and everything else apart', () => {
    assert.equal(requestKind('/live/x/master.m3u8'), 'playlist');
    assert.equal(requestKind('/vod/x/Low/index.m3u8'), 'playlist');
    assert.equal(requestKind('/live/x/Low/3f9a0c2d1e4b-42.m4s'), 'segment');
    assert.equal(requestKind('/live/x/Low/init-3f9a0c2d1e4b-0.mp4'), 'segment');
    assert.equal(requestKind('/api/v1/streams/x'), 'other');
    assert.equal(requestKind('-'), 'other');
  });

  it('counts a request whatever junk its client sent: only the fields nginx writes must be well formed', () => {
    const junk = parseEdgeLine('vtp1 e 400 - 150 - - -');
    assert.equal(junk?.kind, 'other');
    assert.equal(junk?.session, undefined);
    const odd = parseEdgeLine('vtp1 e 200 HIT 10 GET /live/x/Low/a.ts bad\\x22session');
    assert.equal(odd?.outcome, 'hit');
    assert.equal(odd?.session, undefined, 'a session id of the wrong shape is no session');
  });

  it('refuses lines that are not the edge format', () => {
    for (const line of [
      '',
      'vtp2 e 200 HIT 10 GET /a -',
      'vtp1 e 200 HIT 10 GET /a',
      'vtp1 e 200 HIT 10 GET /a - extra',
      'vtp1 e 200 WHATEVER 10 GET /a -',
      'vtp1 e 2000 HIT 10 GET /a -',
      'vtp1 e 200 HIT -1 GET /a -',
      "vtp1 e'x 200 HIT 10 GET /a -",
      `vtp1 e 200 HIT 10 GET /${'a'.repeat(9000)} -`,
    ]) {
      assert.equal(parseEdgeLine(line), undefined, line.slice(0, 60));
    }
    assert.equal(parseEdgeDatagram('vtp1 e 200 HIT 10 GET /a -'), undefined, 'no syslog header');
    assert.equal(
      parseEdgeDatagram(
        '<190>Dec  6 22:08:44 sshd: vtp_edge: vtp1 e 200 HIT 10 GET /a -'.replace(
          'sshd: ',
          `sshd: ${'x'.repeat(400)} `,
        ),
      ),
      undefined,
      'the tag belongs in the header',
    );
  });
});
