import { Type } from 'typebox';
import { PROFILE_NAMES } from '../core/profiles.js';
import { MAX_DVR_SECONDS } from '../service/distribution-service.js';

/**
 * Ids are safe to put in URLs, logs and file names (docs/architecture.md): 1-128 characters of
 * A-Z a-z 0-9 . _ -, and not made only of dots ('.' and '..' are path segments, not names).
 */
export const ID_PATTERN = '^(?!\\.+$)[A-Za-z0-9._-]{1,128}$';
/** Longest id, and so the longest path parameter every route accepts. */
export const MAX_ID_LENGTH = 128;

export const Id = Type.String({ pattern: ID_PATTERN });
export const Profile = Type.Enum([...PROFILE_NAMES]);

/** Request bodies name every field they take: an unknown one is a 400 naming it, not ignored. */
export const CLOSED = { additionalProperties: false } as const;

export const StartStreamBody = Type.Object(
  {
    recording_id: Id,
    max_viewers: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    publish_key: Type.Optional(Type.String({ minLength: 8, maxLength: 256 })),
    /**
     * Ask for a stream key to publish from OBS (RTMP or SRT): the publish key when it has the
     * form of one, else a new random key. Answered in `ingest`, and by GET .../ingest.
     */
    stream_key: Type.Optional(Type.Boolean()),
    /** Seconds of history the live playlist lists for rewinding (README "DVR"); 0 for none. */
    dvr_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_DVR_SECONDS })),
  },
  CLOSED,
);

export const StreamParams = Type.Object({ recording_id: Id });

/** Viewer rows come a page at a time, so no response grows with the audience. */
export const MAX_PAGE_LIMIT = 1000;
export const DEFAULT_PAGE_LIMIT = 100;
export const StatsQuery = Type.Object({
  limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,7}$' })),
  cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
});

export const JoinBody = Type.Object(
  {
    viewer_id: Id,
    initial_bitrate: Type.Optional(Profile),
  },
  CLOSED,
);

export const JoinQuery = Type.Object({
  /** A playback token for the stream, when the server requires them. */
  token: Type.Optional(Type.String({ maxLength: 4096 })),
});

export const LeaveQuery = Type.Object({ viewer_id: Id });

export const NextParams = Type.Object({ recording_id: Id, viewer_id: Id });
export const NextQuery = Type.Object({
  wait_ms: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}$' })),
});

export const DeliverBody = Type.Object(
  {
    recording_id: Id,
    viewer_id: Id,
    segment_id: Id,
    priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
  },
  CLOSED,
);

export const DeliveryParams = Type.Object({ delivery_id: Id });

export const AdaptBody = Type.Object(
  {
    recording_id: Id,
    viewer_id: Id,
    buffer_health: Type.Number({ minimum: 0, maximum: 100 }),
    throughput_kbps: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 10_000_000,
        description:
          'throughput the player measured over the segments it fetched since its last report',
      }),
    ),
  },
  CLOSED,
);

export const CdnBody = Type.Object(
  {
    enabled: Type.Boolean(),
    base_url: Type.Optional(Type.String({ pattern: '^https?://', maxLength: 2048 })),
  },
  CLOSED,
);
