import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import HLS from 'hls-parser';
import { MP4 } from '../../src/core/segment.js';
import { PushPlaylists } from '../../src/service/cdn-push-playlists.js';
import { DistributionService } from '../../src/service/distribution-service.js';
import { HlsDelivery } from '../../src/service/hls-delivery.js';
import { segmentInput } from '../helpers/segments.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;
type MasterPlaylist = InstanceType<typeof HLS.types.MasterPlaylist>;

function setup(dvrSeconds = 0) {
  const service = new DistributionService({ retentionMs: 600_000 });
  const distributor = service.startLiveStream('rec', 100, dvrSeconds);
  return { service, distributor, origin: new HlsDelivery(service, { playlistSegments: 6 }) };
}

describe('playlists for a push target', () => {
  for (const dvr of [0, 60]) {
    it(`list what the origin lists, with relative URIs and no session (DVR ${dvr} s)`, () => {
      const { service, distributor, origin } = setup(dvr);
      const pushed = new PushPlaylists(6);
      for (let n = 0; n < 12; n++) service.addSegmentToStream('rec', segmentInput(n, 'Low'));
      const text = pushed.media(distributor, 'Low')?.text;
      // The origin's own playlist for a request naming no session (nor a CDN) is the same text.
      assert.equal(text, origin.mediaPlaylist('rec', 'Low', {}));
      const parsed = HLS.parse(text ?? '') as MediaPlaylist;
      assert.equal(parsed.segments.length, dvr ? 12 : 6);
      for (const segment of parsed.segments) assert.match(segment.uri, /^seg-\d+$/);
      assert.ok(!text?.includes('?'), 'no query in a pushed playlist');
      assert.deepEqual(
        pushed.media(distributor, 'Low')?.names,
        parsed.segments.map((s) => s.uri),
      );
      service.endLiveStream('rec');
      const ended = pushed.media(distributor, 'Low')?.text ?? '';
      assert.match(ended, /#EXT-X-ENDLIST/);
      assert.equal(ended, origin.mediaPlaylist('rec', 'Low', {}));
    });
  }

  it('name the init sections of fMP4 segments, listed before the segments', () => {
    const { service, distributor } = setup();
    distributor.putInit('Medium', {
      id: 'init-x-0.mp4',
      data: new Uint8Array(9),
      contentType: MP4,
    });
    for (let n = 0; n < 3; n++) {
      service.addSegmentToStream('rec', {
        ...segmentInput(n, 'Medium'),
        id: `x-${n}.m4s`,
        contentType: MP4,
        initId: 'init-x-0.mp4',
      });
    }
    const playlist = new PushPlaylists(6).media(distributor, 'Medium');
    assert.deepEqual(playlist?.names, ['init-x-0.mp4', 'x-0.m4s', 'x-1.m4s', 'x-2.m4s']);
    assert.match(playlist?.text ?? '', /#EXT-X-MAP:URI="init-x-0\.mp4"/);
  });

  it('have none for a rendition without segments', () => {
    const { distributor } = setup();
    assert.equal(new PushPlaylists(6).media(distributor, 'High'), undefined);
  });

  it('write a multivariant playlist of the renditions given, whose shape follows the media description', () => {
    const { service, distributor } = setup();
    for (const profile of ['VeryLow', 'Low', 'High'] as const) {
      service.addSegmentToStream('rec', segmentInput(0, profile));
    }
    const pushed = new PushPlaylists(6);
    const master = pushed.master(distributor, ['VeryLow', 'Low']);
    const variants = (HLS.parse(master.text) as MasterPlaylist).variants;
    assert.deepEqual(
      variants.map((v) => v.uri),
      ['VeryLow/index.m3u8', 'Low/index.m3u8'],
    );
    assert.notEqual(pushed.masterShape(distributor, ['VeryLow', 'Low', 'High']), master.shape);
    distributor.setMediaInfo('Low', { codecs: 'avc1.64001e,mp4a.40.2', width: 426, height: 240 });
    const described = pushed.master(distributor, ['VeryLow', 'Low']);
    assert.notEqual(described.shape, master.shape);
    assert.match(described.text, /CODECS="avc1\.64001e,mp4a\.40\.2",RESOLUTION=426x240/);
  });
});
