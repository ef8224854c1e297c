/**
 * RFC 6381 codec strings for the master playlist. The avc1 string needs the exact profile,
 * constraint flags and level bytes of the H.264 SPS, which ffprobe does not print, so they are
 * read here: from the first SPS NAL unit of an Annex-B stream (MPEG-TS) or an avcC box (fMP4).
 */

const hex = (byte: number) => byte.toString(16).padStart(2, '0');

/** `avc1.PPCCLL` from the first H.264 SPS found in `bytes`, or undefined. */
export function avcCodecFromMedia(bytes: Uint8Array): string | undefined {
  const avcC = indexOfAscii(bytes, 'avcC');
  if (avcC >= 0 && avcC + 8 <= bytes.length) {
    // avcC: configurationVersion, AVCProfileIndication, profile_compatibility, AVCLevelIndication
    return avc(bytes[avcC + 5], bytes[avcC + 6], bytes[avcC + 7]);
  }
  for (let i = 0; i + 6 < bytes.length; i++) {
    if (
      bytes[i] === 0 &&
      bytes[i + 1] === 0 &&
      bytes[i + 2] === 1 &&
      ((bytes[i + 3] ?? 0) & 0x1f) === 7
    ) {
      return avc(bytes[i + 4], bytes[i + 5], bytes[i + 6]);
    }
  }
  return undefined;
}

function avc(
  profile: number | undefined,
  constraints: number | undefined,
  level: number | undefined,
) {
  if (profile === undefined || constraints === undefined || level === undefined || profile === 0)
    return undefined;
  return `avc1.${hex(profile)}${hex(constraints)}${hex(level)}`;
}

function indexOfAscii(bytes: Uint8Array, text: string): number {
  const first = text.charCodeAt(0);
  outer: for (let i = 0; i + text.length <= bytes.length; i++) {
    if (bytes[i] !== first) continue;
    for (let j = 1; j < text.length; j++) if (bytes[i + j] !== text.charCodeAt(j)) continue outer;
    return i;
  }
  return -1;
}

/** The mp4a codec string of an audio stream as ffprobe names it. */
export function audioCodec(
  codecName: string | undefined,
  profile: string | undefined,
): string | undefined {
  if (codecName === 'aac') {
    if (profile === 'HE-AAC') return 'mp4a.40.5';
    if (profile === 'HE-AACv2') return 'mp4a.40.29';
    return 'mp4a.40.2';
  }
  if (codecName === 'mp3') return 'mp4a.40.34';
  if (codecName === 'ac3') return 'ac-3';
  if (codecName === 'eac3') return 'ec-3';
  if (codecName === 'opus') return 'Opus';
  return undefined;
}
