import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { DEFAULT_PRIORITY } from '../../service/distribution-service.js';
import type { RouteDeps } from '../app.js';
import { tagged } from '../operation-docs.js';
import { DeliveryQueued, DeliveryStatus, located } from '../response-schemas.js';
import { envelope } from '../responses.js';
import { DeliverBody, DeliveryParams } from '../schemas.js';

/** Queued delivery of a segment to a viewer (the seed's DeliverSegment) and its outcome. */
export const segmentRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { service, admin },
) => {
  app.post(
    '/api/v1/segments/deliver',
    {
      onRequest: admin,
      schema: {
        summary: 'Queue delivery of a segment to a viewer',
        tags: tagged('segments'),
        body: DeliverBody,
        response: { 202: located(DeliveryQueued, 'the delivery') },
      },
    },
    async (request, reply) => {
      const { recording_id, viewer_id, segment_id, priority = DEFAULT_PRIORITY } = request.body;
      const queued = service.deliverSegmentToViewer(recording_id, viewer_id, segment_id, priority);
      return reply
        .code(202)
        .header('location', `/api/v1/segments/deliveries/${encodeURIComponent(queued.deliveryId)}`)
        .send(
          envelope(
            {
              delivery_id: queued.deliveryId,
              recording_id,
              viewer_id,
              segment_id,
              bitrate: queued.profile,
              priority: queued.priority,
              status: 'queued',
            },
            'Segment delivery queued',
          ),
        );
    },
  );

  app.get(
    '/api/v1/segments/deliveries/:delivery_id',
    {
      schema: {
        summary: 'Outcome of a delivery',
        tags: tagged('segments'),
        params: DeliveryParams,
        response: { 200: DeliveryStatus },
      },
    },
    async (request) => {
      const status = service.deliveryStatus(request.params.delivery_id);
      return envelope(
        {
          delivery_id: status.id,
          status: status.state,
          attempts: status.attempts,
          ...(status.error !== undefined && { error: status.error }),
        },
        `Delivery ${status.state}`,
      );
    },
  );
};
