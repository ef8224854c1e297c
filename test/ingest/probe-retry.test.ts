import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MediaInfo } from '../../src/core/media-info.js';
import { INGEST_DEFAULTS } from '../../src/ingest/ingest-service.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { pushSegments } from '../helpers/push.js';
import { waitFor } from '../helpers/wait.js';

const MAX_PROBE_ATTEMPTS = INGEST_DEFAULTS.maxProbeAttempts;
const GOOD: MediaInfo = { width: 640, height: 360, frameRate: 25, codecs: 'avc1.64001e,mp4a.40.2' };

describe('probing the media of a pushed rendition', () => {
  let server: TestServer;
  /** Probes asked for, per stream; a stream named `bad-*` never probes well. */
  const probed = new Map<string, number>();
  let current = '';
  before(async () => {
    server = await startTestServer({}, 200, {
      ingest: {
        probe: async () => {
          probed.set(current, (probed.get(current) ?? 0) + 1);
          if (current.startsWith('bad'))
            throw new Error('Invalid data found when processing input');
          // A probe that finds nothing it can name is a failure too.
          if (current.startsWith('mute') && (probed.get(current) ?? 0) < 3) return {};
          return GOOD;
        },
      },
    });
  });
  after(() => server.close());

  /** Pushes segments [from, to) one at a time, each after the probe it started has settled. */
  async function pushSettled(stream: string, from: number, to: number): Promise<void> {
    for (let s = from; s < to; s++) {
      await pushSegments(server.url, stream, 'Low', s, s + 1);
      await server.ingest.probing(stream);
    }
  }

  async function master(stream: string): Promise<string> {
    const session = (
      await call(`${server.url}/api/v1/streams/${stream}`, 'POST', { viewer_id: 'v' })
    ).body.session_id;
    return (await fetch(`${server.url}/live/${stream}/master.m3u8?session=${session}`)).text();
  }

  it('probes once per encoder run when the probe succeeds', async () => {
    current = 'fine';
    await pushSegments(server.url, 'fine', 'Low', 0, 5);
    await waitFor(async () => (probed.get('fine') === 1 ? true : undefined), 2000, 'one probe');
    assert.match(await master('fine'), /CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360/);
    assert.equal(probed.get('fine'), 1);
  });

  it('tries again on later segments when a probe finds no codec, until one does', async () => {
    current = 'mute';
    await pushSettled('mute', 0, 6);
    assert.equal(probed.get('mute'), 3, 'two empty results, then the one that names the codecs');
    assert.match(await master('mute'), /CODECS="avc1.64001e,mp4a.40.2"/);
  });

  it(`gives up after ${MAX_PROBE_ATTEMPTS} failed probes in one run, and tries again in the next run`, async () => {
    current = 'bad';
    await pushSettled('bad', 0, MAX_PROBE_ATTEMPTS + 4);
    assert.equal(probed.get('bad'), MAX_PROBE_ATTEMPTS);
    assert.doesNotMatch(await master('bad'), /CODECS=/);
    // The encoder restarts (from sequence 0): a new run is probed anew.
    await pushSettled('bad', 0, 1);
    assert.equal(probed.get('bad'), MAX_PROBE_ATTEMPTS + 1);
  });
});
