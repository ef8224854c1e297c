import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteDeps } from '../app.js';
import { tagged, VIEWER_SECURITY } from '../operation-docs.js';
import { QualityAdapted } from '../response-schemas.js';
import { envelope } from '../responses.js';
import { AdaptBody } from '../schemas.js';

/** Buffer-health reports that drive each viewer's bitrate (the seed's AdaptViewerQuality). */
export const viewerRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { service, access },
) => {
  const schema = {
    summary: 'Report buffer health; adapt the bitrate',
    tags: tagged('viewers'),
    security: VIEWER_SECURITY,
    body: AdaptBody,
    response: { 200: QualityAdapted },
  };
  app.post('/api/v1/viewers/adapt-quality', { schema }, async (request) => {
    const { recording_id, viewer_id, buffer_health, throughput_kbps } = request.body;
    access.requireViewer(request, recording_id, viewer_id);
    const result = service.adaptViewerQuality(
      recording_id,
      viewer_id,
      buffer_health,
      throughput_kbps,
    );
    const session = service.getDistributor(recording_id).session(viewer_id);
    return envelope(
      {
        recording_id,
        viewer_id,
        previous_bitrate: result.previous,
        new_bitrate: result.current,
        switched: result.switched,
        buffer_health: session.bufferHealth,
        connection_quality: session.connectionQuality,
        reason: result.reason,
      },
      result.switched ? `Bitrate switched to ${result.current}` : 'Bitrate unchanged',
    );
  });
};
