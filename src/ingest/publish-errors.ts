import { DistributionError } from '../core/errors.js';

export class PublishingOffError extends DistributionError {
  constructor(field: string) {
    super(
      'PUBLISHING_OFF',
      'stream keys need RTMP publishing, which is off on this server (--rtmp-port 0)',
      field,
    );
  }
}

export class StreamKeyNotFoundError extends DistributionError {
  constructor(recordingId: string) {
    super(
      'STREAM_KEY_NOT_FOUND',
      `stream '${recordingId}' has no stream key: start it with "stream_key": true`,
      'recording_id',
    );
  }
}
