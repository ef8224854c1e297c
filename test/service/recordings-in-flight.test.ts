import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import HLS from 'hls-parser';
import { DistributionService } from '../../src/service/distribution-service.js';
import { Recordings } from '../../src/service/recordings.js';
import { segmentMeta, tempSegmentFiles } from '../helpers/segment-files.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;

const INC = '9d2b4e6f8a01';

/**
 * An encoder's last pushes can still be on their way to disk when its stream ends (ffmpeg exits
 * without waiting for the answers, and the stream is ended at once): the recording's playlists,
 * which caches keep a minute, must still list them.
 */
describe('a recording whose last segments are still being written', () => {
  it('lists them in its playlists once their writes finished', async (t) => {
    const files = await tempSegmentFiles(t);
    await files.write('talk', INC, 'Low', `${INC}-0.ts`, Buffer.from('zero'), segmentMeta(0));
    // The stream has ended (it is not in the service); two writes are still running.
    const writes = [1, 2].map((s) =>
      files.write('talk', INC, 'Low', `${INC}-${s}.ts`, Buffer.from(`seg ${s}`), segmentMeta(s)),
    );
    assert.equal(files.list('talk').length, 1, 'the writes have not finished yet');
    const recordings = new Recordings(files, new DistributionService());
    const [media, master] = await Promise.all([
      recordings.mediaPlaylist('talk', 'Low'),
      recordings.multivariant('talk'),
    ]);
    const listed = (HLS.parse(media) as MediaPlaylist).segments.map((s) => s.uri);
    assert.deepEqual(
      listed,
      [0, 1, 2].map((s) => `${INC}-${s}.ts`),
    );
    assert.match(master, /Low\/index\.m3u8/);
    await Promise.all(writes);
  });
});
