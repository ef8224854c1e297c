/** LiveSink into VTP Live's HTTP ingest: PUT segment, then PUT playlist, like ffmpeg -method PUT. */
import { Pool } from 'undici';
import type { ProfileName } from './profiles.js';
import type { LiveSink } from './replayer.js';

export class IngestSink implements LiveSink {
  private readonly pool: Pool;

  constructor(
    origin: string,
    private readonly recordingId: string,
  ) {
    this.pool = new Pool(origin, { connections: 8, headersTimeout: 10_000, bodyTimeout: 10_000 });
  }

  private async put(path: string, body: Buffer | string, contentType: string): Promise<void> {
    const response = await this.pool.request({
      method: 'PUT',
      path,
      body,
      headers: { 'content-type': contentType },
    });
    const text = await response.body.text();
    if (response.statusCode >= 300) {
      throw new Error(`PUT ${path}: ${response.statusCode} ${text.slice(0, 300)}`);
    }
  }

  putSegment(profile: ProfileName, fileName: string, bytes: Buffer): Promise<void> {
    return this.put(`/ingest/${this.recordingId}/${profile}/${fileName}`, bytes, 'video/mp2t');
  }

  putPlaylist(profile: ProfileName, text: string): Promise<void> {
    const path = `/ingest/${this.recordingId}/${profile}/index.m3u8`;
    return this.put(path, text, 'application/vnd.apple.mpegurl');
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
