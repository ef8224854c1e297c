import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from 'typebox';
import { rfc3339 } from '../../core/timestamp.js';
import type { EncoderStatus } from '../../ingest/encoder-job.js';
import type { RouteDeps } from '../app.js';
import { tagged } from '../operation-docs.js';
import { Encoder, EncoderList, located } from '../response-schemas.js';
import { envelope } from '../responses.js';
import { CLOSED, Id } from '../schemas.js';

const SourceKinds = Type.Union([
  Type.Object({ type: Type.Literal('test-pattern') }, CLOSED),
  Type.Object(
    {
      type: Type.Literal('file'),
      path: Type.String({ minLength: 1, maxLength: 512 }),
      loop: Type.Optional(Type.Boolean()),
    },
    CLOSED,
  ),
  Type.Object(
    { type: Type.Literal('url'), url: Type.String({ minLength: 1, maxLength: 2048 }) },
    CLOSED,
  ),
]);
/**
 * One of the kinds, chosen by `type` (a discriminated oneOf): an error names the field of the
 * kind the body asked for, not the first kind's (`source.loop`, not `source.path` of `url`).
 */
const Source = Type.Unsafe<Static<typeof SourceKinds>>({
  type: 'object',
  required: ['type'],
  properties: { type: Type.Enum(['test-pattern', 'file', 'url']) },
  discriminator: { propertyName: 'type' },
  oneOf: SourceKinds.anyOf,
});

const StartBody = Type.Object(
  {
    recording_id: Id,
    source: Type.Optional(Source),
    preset: Type.Optional(Type.Enum(['full', 'light'])),
    fmp4: Type.Optional(Type.Boolean()),
    duration_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400 })),
  },
  CLOSED,
);
const JobParams = Type.Object({ job_id: Id });

/** The JSON shape of an encoder's status. */
export function encoderJson(status: EncoderStatus) {
  return {
    job_id: status.jobId,
    recording_id: status.recordingId,
    state: status.state,
    pid: status.pid ?? null,
    restarts: status.restarts,
    speed: status.speed ?? null,
    behind_real_time: status.behind,
    encoded_seconds: Math.round(status.encodedSeconds * 10) / 10,
    last_error: status.lastError ?? null,
    started_at: rfc3339(status.startedAt),
  };
}

/** Built-in ladder encoders: start, stop, status and list. */
export const transcodeRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { encoders, admin },
) => {
  app.post(
    '/api/v1/transcode/start',
    {
      onRequest: admin,
      schema: {
        summary: 'Start a built-in ladder encoder',
        tags: tagged('transcode'),
        body: StartBody,
        response: { 201: located(Encoder, "the encoder's status") },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const status = encoders.start({
        recordingId: body.recording_id,
        source: body.source ?? { type: 'test-pattern' },
        preset: body.preset ?? 'light',
        fmp4: body.fmp4,
        durationSec: body.duration_seconds,
      });
      return reply
        .code(201)
        .header('location', `/api/v1/transcode/${encodeURIComponent(status.jobId)}`)
        .send(envelope(encoderJson(status), 'Encoder started'));
    },
  );

  const listSchema = {
    summary: 'Every built-in encoder',
    tags: tagged('transcode'),
    response: { 200: EncoderList },
  };
  app.get('/api/v1/transcode', { schema: listSchema }, async () =>
    envelope({ encoders: encoders.list().map(encoderJson) }, 'Encoders retrieved successfully'),
  );

  const statusSchema = {
    summary: "An encoder's status",
    tags: tagged('transcode'),
    params: JobParams,
    response: { 200: Encoder },
  };
  app.get('/api/v1/transcode/:job_id', { schema: statusSchema }, async (request) =>
    envelope(
      encoderJson(encoders.get(request.params.job_id)),
      'Encoder status retrieved successfully',
    ),
  );

  app.post(
    '/api/v1/transcode/:job_id/stop',
    {
      onRequest: admin,
      schema: {
        summary: 'Stop an encoder',
        tags: tagged('transcode'),
        params: JobParams,
        response: { 200: Encoder },
      },
    },
    async (request) =>
      envelope(encoderJson(await encoders.stop(request.params.job_id)), 'Encoder stopped'),
  );
};
