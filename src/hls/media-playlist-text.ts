import HLS from 'hls-parser';

type HlsMediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;

/**
 * The text of a media playlist (live or VOD) declaring `version`: at version 3 and above every
 * EXTINF is written as a decimal, so all playlists of a stream read alike.
 */
export function mediaPlaylistText(playlist: HlsMediaPlaylist, version: number): string {
  return HLS.stringify(playlist, version >= 3 ? { segmentProcessor: decimalExtinf } : undefined);
}

/**
 * Writes a whole-second EXTINF as a decimal one (`2.000`) at version 3 and above, as encoders
 * do: a playlist kept at version 3 after its last fractional segment slid out still uses the
 * feature it declares, so every playlist of the stream reads alike.
 */
function decimalExtinf(
  lines: string[],
  start: number,
  end: number,
  segment: { duration: number },
): void {
  if (!Number.isInteger(segment.duration)) return;
  const whole = `#EXTINF:${segment.duration},`;
  for (let i = start; i <= end; i++) {
    const line = lines[i];
    if (line?.startsWith(whole)) {
      lines[i] = `#EXTINF:${segment.duration.toFixed(3)},${line.slice(whole.length)}`;
      return;
    }
  }
}
