import type { Readable } from 'node:stream';
import { type TProperties, type TSchema, Type } from 'typebox';
import { Profile } from './schemas.js';

/**
 * Response schemas of the control API, ingest and pages: what the OpenAPI document shows, and
 * what Fastify serializes with. Every object is open (`additionalProperties: true`) so the
 * serializer never drops a field a handler sends, and a field is required only where every
 * answer has it (the serializer throws on a missing required one). Nullable fields say so:
 * the serializer would write `""` or `0` for a null declared as a plain string or number.
 */
const OPEN = { additionalProperties: true } as const;

const Timestamp = Type.String({ format: 'date-time', description: 'RFC 3339' });
const Count = Type.Integer({ minimum: 0 });
const ByProfile = Type.Object(
  { VeryLow: Count, Low: Count, Medium: Count, High: Count },
  { ...OPEN, description: 'one figure per profile' },
);
const StreamStatus = Type.Enum(['live', 'ended']);
const ConnectionQuality = Type.Enum(['excellent', 'good', 'fair', 'poor']);

/** A JSON success: its own fields with the `message` and `timestamp` every answer carries. */
function reply<T extends TProperties>(description: string, properties: T) {
  return Type.Object(
    { ...properties, message: Type.String(), timestamp: Timestamp },
    { ...OPEN, description },
  );
}

/** The response of `status` with a `Location` naming `what`. */
export function located<T extends TSchema>(schema: T, what: string) {
  return {
    ...schema,
    headers: { location: Type.String({ description: `path of ${what}` }) },
  } as T;
}

/** A success without a body (204, 302). */
export function noBody(description: string) {
  return Type.Unsafe<void>({ description, type: 'null' });
}

const binary = Type.String({ format: 'binary' });

/** Segment bytes: MPEG-TS or fMP4. */
export function media(description: string) {
  return Type.Unsafe<Uint8Array>({
    description,
    content: { 'video/mp2t': { schema: binary }, 'video/mp4': { schema: binary } },
  });
}

/** Segment bytes streamed from disk (recordings). */
export function streamedMedia(description: string) {
  return Type.Unsafe<Uint8Array | Readable>(media(description));
}

/** A text body of the given media types (pages, scripts, style sheets, metrics). */
export function text(description: string, ...types: string[]) {
  return Type.Unsafe<string | Uint8Array>({
    description,
    content: Object.fromEntries(types.map((type) => [type, { schema: Type.String() }])),
  });
}

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

const PublishUrlFields = {
  rtmp_url: Type.String({ description: 'the whole RTMP URL, key included' }),
  rtmp_server: Type.String({ description: "OBS's Server field" }),
  stream_key: Type.String({ description: "OBS's Stream Key field; also the SRT passphrase" }),
  srt_url: Nullable(Type.String({ description: 'the SRT URL for OBS or ffmpeg, if SRT is on' })),
  srt_port: Nullable(Count),
};

export const StreamStarted = reply('the stream started', {
  recording_id: Type.String(),
  stream_id: Type.String(),
  status: Type.Literal('started'),
  max_viewers: Count,
  profiles: Type.Array(Profile),
  profile_max_viewers: ByProfile,
  ingest: Type.Optional(
    Type.Object(PublishUrlFields, {
      ...OPEN,
      description: 'with `stream_key: true`: where the lecturer publishes',
    }),
  ),
});

export const ViewerJoined = reply('the viewer joined', {
  recording_id: Type.String(),
  viewer_id: Type.String(),
  session_id: Type.String({
    description: "the viewer's session: its bearer token on the viewer routes",
  }),
  requested_bitrate: Profile,
  current_bitrate: Profile,
  buffer_health: Type.Number(),
  playback_url: Type.String({
    description: 'the multivariant playlist for this session (with a playback token if needed)',
  }),
});

/** One viewer's row of the statistics. */
const ViewerRowFields = {
  viewer_id: Type.String(),
  current_bitrate: Profile,
  target_bitrate: Profile,
  segments_received: Count,
  bytes_received: Count,
  buffer_health: Type.Number({ minimum: 0, maximum: 100 }),
  connection_quality: ConnectionQuality,
  throughput_kbps: Type.Integer(),
  recommended_bitrate: Type.Union([Profile, Type.Null()]),
  duration: Type.String({ description: 'time since the join, like 5m30s' }),
  joined_at: Timestamp,
  last_seen_at: Timestamp,
  bitrate_history: Type.Array(
    Type.Object(
      {
        from: Profile,
        to: Profile,
        at: Timestamp,
        reason: Type.String(),
        detail: Type.Optional(Type.String({ description: "the adaptation policy's reason" })),
      },
      { ...OPEN },
    ),
  ),
};
const ViewerRowObject = Type.Object(ViewerRowFields, OPEN);

export const ViewerRow = reply("one viewer's row", {
  recording_id: Type.String(),
  ...ViewerRowFields,
});

/** A stream's figures without viewer rows. */
const StreamSummaryFields = {
  recording_id: Type.String(),
  status: StreamStatus,
  max_viewers: Count,
  active_viewers: Count,
  peak_viewers: Count,
  total_segments_served: Count,
  total_bytes_served: Count,
  viewers_by_profile: ByProfile,
  segments_available: ByProfile,
};

/** A stream's publishing from OBS (RTMP or SRT); null when it has no stream key. */
const IngestObject = Nullable(
  Type.Object(
    {
      protocol: Nullable(Type.Enum(['rtmp', 'srt'])),
      connected: Type.Boolean(),
      connected_since: Nullable(Timestamp),
      reconnects: Count,
      bitrate_kbps: Nullable(Type.Number({ description: 'incoming, over the last 2 s' })),
      width: Nullable(Count),
      height: Nullable(Count),
      fps: Nullable(Type.Number()),
      video_codec: Nullable(Type.String()),
      audio_codec: Nullable(Type.String()),
    },
    { ...OPEN, description: "the lecturer's publish (RTMP or SRT), null without a stream key" },
  ),
);

export const IngestUrls = reply("the stream's publish URLs and its publishing now", {
  recording_id: Type.String(),
  ...PublishUrlFields,
  ingest: IngestObject,
});

export const StreamStatistics = reply(
  "the stream's figures, with the viewer rows the caller may see",
  {
    ...StreamSummaryFields,
    viewers: Type.Array(ViewerRowObject, {
      description: 'every row for the operator (a page), its own for a viewer, none otherwise',
    }),
    next_cursor: Type.Union([Type.String(), Type.Null()], {
      description: 'the cursor of the next page of rows, or null on the last',
    }),
    ingest: IngestObject,
  },
);

export const StreamList = reply('every stream, summarised', {
  streams: Type.Array(
    Type.Object(
      {
        ...StreamSummaryFields,
        average_buffer_health: Type.Union([Type.Number(), Type.Null()]),
        connection_quality: Type.Object({}, { ...OPEN, description: 'viewers per quality' }),
        encoder: Type.Union([Type.Object({}, OPEN), Type.Null()]),
        ingest: IngestObject,
      },
      OPEN,
    ),
  ),
});

const RecordingFields = {
  recording_id: Type.String(),
  status: Type.Enum(['recording', 'complete'], {
    description: '`recording` while its stream is live (not playable or deletable yet)',
  }),
  started_at: Timestamp,
  ended_at: Timestamp,
  duration_seconds: Type.Number({ minimum: 0, description: 'media time of the longest rendition' }),
  bytes: Count,
  renditions: Type.Array(Profile),
  master_url: Type.Union([Type.String(), Type.Null()], {
    description: 'path of its VOD multivariant playlist, null until its stream ended',
  }),
};

export const Recording = reply('the recording', RecordingFields);

export const RecordingList = reply('every recording kept, oldest first', {
  recordings: Type.Array(Type.Object(RecordingFields, OPEN)),
  count: Count,
});

export const RecordingDeleted = reply('the recording is deleted', {
  recording_id: Type.String(),
  status: Type.Literal('deleted'),
  bytes_freed: Count,
});

export const ViewerLeft = reply('the viewer left', {
  recording_id: Type.String(),
  viewer_id: Type.String(),
  segments_received: Count,
  bytes_received: Count,
});

export const StreamEnded = reply('the stream ended', {
  recording_id: Type.String(),
  status: StreamStatus,
  peak_viewers: Count,
  total_segments_served: Count,
  total_bytes_served: Count,
});

export const DeliveryQueued = reply('the delivery is queued', {
  delivery_id: Type.String(),
  recording_id: Type.String(),
  viewer_id: Type.String(),
  segment_id: Type.String(),
  bitrate: Profile,
  priority: Type.Integer({ minimum: 0, maximum: 10 }),
  status: Type.Literal('queued'),
});

export const DeliveryStatus = reply('where the delivery stands', {
  delivery_id: Type.String(),
  status: Type.Enum(['queued', 'running', 'delivered', 'failed']),
  attempts: Count,
  error: Type.Optional(Type.String({ description: 'why it failed' })),
});

export const QualityAdapted = reply("the viewer's bitrate after the report", {
  recording_id: Type.String(),
  viewer_id: Type.String(),
  previous_bitrate: Profile,
  new_bitrate: Profile,
  switched: Type.Boolean(),
  buffer_health: Type.Number({ minimum: 0, maximum: 100 }),
  connection_quality: ConnectionQuality,
  reason: Type.String({ description: "the adaptation policy's reason for its choice" }),
});

/** A built-in encoder's status. */
const EncoderFields = {
  job_id: Type.String(),
  recording_id: Type.String(),
  state: Type.Enum(['starting', 'running', 'restarting', 'finished', 'stopped']),
  pid: Type.Union([Type.Integer(), Type.Null()]),
  restarts: Count,
  speed: Type.Union([Type.Number(), Type.Null()], {
    description: "ffmpeg's real-time factor since its start",
  }),
  behind_real_time: Type.Boolean(),
  encoded_seconds: Type.Number(),
  last_error: Type.Union([Type.String(), Type.Null()]),
  started_at: Timestamp,
};

export const Encoder = reply("the encoder's status", EncoderFields);

export const EncoderList = reply('every built-in encoder', {
  encoders: Type.Array(Type.Object(EncoderFields, OPEN)),
});

export const Pushed = reply('the file is taken', {
  recording_id: Type.String(),
  profile: Type.Union([Profile, Type.Null()]),
  file: Type.String(),
  published: Type.Integer({ minimum: 0, description: 'segments this push made ready' }),
});

export const DistributionMetrics = reply('system metrics', {
  total_distributors: Count,
  live_streams: Count,
  total_active_viewers: Count,
  total_segments_served: Count,
  total_bytes_served: Count,
  total_delivery_failures: Count,
  cdn_enabled: Type.Boolean(),
  cdn_base_url: Type.Union([Type.String(), Type.Null()]),
  cdn_cache_hit_rate: Type.Number({ minimum: 0, maximum: 1 }),
  cdn_hits: Count,
  cdn_misses: Count,
  delivery_queue: Type.Object(
    {
      workers: Count,
      capacity: Count,
      queued: Count,
      running: Count,
      delivered: Count,
      failed: Count,
      failed_attempts: Count,
    },
    OPEN,
  ),
  encoders: Type.Object({ running: Count, behind_real_time: Count }, OPEN),
  cdn_push: Type.Optional(
    Type.Object(
      {
        targets: Type.Array(
          Type.Object(
            {
              target: Type.String({ description: 'the URL, credentials and query values masked' }),
              up: Type.Boolean({
                description: 'false from an upload that gave up to one that succeeds',
              }),
              segments_pushed: Count,
              playlists_pushed: Count,
              bytes_pushed: Count,
              deleted: Count,
              deletes_given_up: Type.Integer({
                minimum: 0,
                description:
                  'removals given up (refused, or too many waiting): the objects stay at the target',
              }),
              failed_attempts: Count,
              failures: Type.Integer({ minimum: 0, description: 'pushes given up after retries' }),
              dropped: Type.Integer({
                minimum: 0,
                description: 'pushes dropped from a full backlog',
              }),
              backlog: Count,
              in_flight: Count,
              last_error: Type.Union([Type.String(), Type.Null()]),
              last_success_at: Type.Union([Timestamp, Type.Null()]),
            },
            OPEN,
          ),
        ),
      },
      { ...OPEN, description: 'push delivery to each --cdn-push-targets target; absent without' },
    ),
  ),
  uptime_seconds: Count,
});

export const Health = reply('healthy, or degraded with the reasons (503 while draining)', {
  status: Type.Enum(['healthy', 'degraded']),
  accepting: Type.Boolean({ description: 'false while the server drains' }),
  reasons: Type.Array(Type.String()),
  streams: Type.Array(
    Type.Object(
      {
        recording_id: Type.String(),
        status: Type.Enum(['healthy', 'degraded', 'waiting'], {
          description: 'waiting: no segment yet',
        }),
        reasons: Type.Array(Type.String()),
        last_segment_age_seconds: Type.Union([Type.Number(), Type.Null()]),
        target_duration_seconds: Type.Number(),
        encoder: Type.Union([Type.Object({}, OPEN), Type.Null()]),
      },
      OPEN,
    ),
  ),
});

export const CdnSettings = reply('the CDN setting now', {
  cdn_enabled: Type.Boolean(),
  cdn_base_url: Type.Union([Type.String(), Type.Null()]),
});

/** The OpenAPI document itself. */
export const OpenApiDocument = Type.Object(
  { openapi: Type.String(), info: Type.Object({}, OPEN), paths: Type.Object({}, OPEN) },
  { ...OPEN, description: 'an OpenAPI 3 document' },
);

/** Seconds (or shares) per profile: fractional, unlike ByProfile's counts. */
const FiguresByProfile = Type.Object(
  { VeryLow: Type.Number(), Low: Type.Number(), Medium: Type.Number(), High: Type.Number() },
  { ...OPEN, description: 'one figure per profile' },
);
const Seconds = Type.Number({ minimum: 0, description: 'seconds, to the millisecond' });

const AttendanceRow = Type.Object(
  {
    viewer_id: Type.String(),
    anonymous: Type.Boolean(),
    joined_at: Timestamp,
    left_at: Type.Union([Timestamp, Type.Null()], { description: 'null while still joined' }),
    leave_reason: Type.Union([Type.String(), Type.Null()]),
    last_seen_at: Timestamp,
    watch_seconds: Seconds,
    segments_received: Count,
    bytes_received: Count,
    seconds_per_profile: FiguresByProfile,
    profile_share: FiguresByProfile,
    switches: Count,
    low_buffer_events: Count,
    stalls: Count,
    connection_quality: Type.Array(
      Type.Object(
        {
          at: Timestamp,
          buffer_health: Type.Number(),
          throughput_kbps: Type.Number(),
          connection_quality: ConnectionQuality,
        },
        OPEN,
      ),
    ),
  },
  { ...OPEN, description: 'one attendance: a viewer that returned has one row per visit' },
);

const AttendanceReportJson = reply('the attendance report (README "Attendance report")', {
  recording_id: Type.String(),
  started_at: Timestamp,
  ended_at: Type.Union([Timestamp, Type.Null()], { description: 'null while live' }),
  generated_at: Timestamp,
  summary: Type.Object(
    {
      viewers: Count,
      joins: Count,
      peak_viewers: Count,
      average_viewers: Type.Number(),
      total_watch_seconds: Seconds,
      average_watch_seconds: Seconds,
      seconds_per_profile: FiguresByProfile,
      profile_share: FiguresByProfile,
      low_buffer_events: Count,
      stalls: Count,
      stall_ratio: Type.Union([Type.Number(), Type.Null()], {
        description: 'stalls per minute of watch time; null when nobody watched',
      }),
    },
    OPEN,
  ),
  viewers: Type.Array(AttendanceRow),
});

/** The report as JSON, or its viewer rows as CSV (`Accept: text/csv`). */
// Typed loosely: the report's lists are readonly, which the schema's static type is not.
export const AttendanceReportReply = Type.Unsafe<object | string>({
  description: 'the attendance report: JSON, or its viewer rows as CSV with `Accept: text/csv`',
  content: {
    'application/json': { schema: AttendanceReportJson },
    'text/csv': { schema: Type.String() },
  },
});
