import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DistributionService } from '../../src/service/distribution-service.js';
import { LocalAudience } from '../../src/service/shared-audience.js';
import type { StreamEventMap } from '../../src/service/stream-events.js';

const services: DistributionService[] = [];

function service(clock?: () => number): DistributionService {
  const s = new DistributionService({ idleTimeoutMs: 1000, ...(clock && { clock }) });
  services.push(s);
  return s;
}

after(async () => {
  for (const s of services) await s.shutdown(100);
});

describe('the in-process audience (no --state-url)', () => {
  it('shares nothing: every call is answered at once and changes nothing', async () => {
    const audience = new LocalAudience();
    assert.equal(audience.shared, false);
    assert.equal(audience.expiresIdleLocally, true);
    const proposal = { incarnation: 'abc', maxViewers: 5, dvrSeconds: 0 };
    assert.deepEqual(await audience.claimStream('rec', proposal, true), proposal);
    assert.equal(audience.identity('rec'), undefined);
    assert.equal(await audience.handedOut('vs-x'), undefined);
    assert.deepEqual(audience.problems(), []);
    assert.equal(audience.announces('vs-x'), true);
  });

  it('leaves the service as it was: joins, caps and streams are the process its own', async () => {
    const s = service();
    assert.equal(s.sharesAudience, false);
    await s.prepareStream('rec', { maxViewers: 1 }, true);
    const stream = s.startLiveStream('rec', 1);
    // The join seats and announces at once, as before.
    const joined: Array<StreamEventMap['viewer_joined'][0]> = [];
    s.events.on('viewer_joined', (detail) => joined.push(detail));
    const ada = await s.admitViewer('rec', 'ada');
    assert.equal(s.findSession(ada.sessionId)?.recordingId, 'rec');
    assert.equal(joined.length, 1);
    await assert.rejects(s.admitViewer('rec', 'bob'), { code: 'STREAM_FULL' });
    // Look-ups of unknown sessions and refreshes find nothing more.
    await s.lookUpSession('rec', 'vs-unknown');
    await s.refreshAudience('rec');
    assert.equal(s.findSession('vs-unknown'), undefined);
    assert.equal(await s.handedOutElsewhere('rec', 'vs-unknown'), false);
    assert.deepEqual(s.health().reasons, []);
    assert.equal(stream.activeViewers, 1);
  });

  it('expires idle viewers here, announcing each', () => {
    let now = 0;
    const s = service(() => now);
    s.startLiveStream('rec');
    s.joinStream('rec', 'quiet');
    const left: Array<StreamEventMap['viewer_left'][0]> = [];
    s.events.on('viewer_left', (detail) => left.push(detail));
    now = 1001;
    s.cleanup();
    assert.equal(s.getDistributor('rec').activeViewers, 0);
    assert.deepEqual(
      left.map((l) => [l.viewerId, l.reason]),
      [['quiet', 'idle']],
    );
  });
});
