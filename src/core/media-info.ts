/** What the master playlist says about a rendition, read from its real media. */
export interface MediaInfo {
  readonly width?: number | undefined;
  readonly height?: number | undefined;
  readonly frameRate?: number | undefined;
  /** RFC 6381 codecs, e.g. `avc1.64001f,mp4a.40.2`. */
  readonly codecs?: string | undefined;
}
