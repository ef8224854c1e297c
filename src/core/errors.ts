/**
 * Domain errors. Each carries a stable machine-readable `code`; the HTTP layer reads each
 * code's status, meaning and retry hint from one table (src/http/error-codes.ts).
 */
export class DistributionError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The request field the error is about, when there is one. */
    readonly field?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class StreamNotFoundError extends DistributionError {
  constructor(recordingId: string) {
    super('STREAM_NOT_FOUND', `stream '${recordingId}' does not exist`, 'recording_id');
  }
}

export class StreamExistsError extends DistributionError {
  constructor(recordingId: string) {
    super('STREAM_EXISTS', `stream '${recordingId}' is already live`, 'recording_id');
  }
}

export class StreamEndedError extends DistributionError {
  constructor(recordingId: string) {
    super('STREAM_ENDED', `stream '${recordingId}' has ended`, 'recording_id');
  }
}

export class StreamFullError extends DistributionError {
  constructor(recordingId: string, maxViewers: number) {
    super('STREAM_FULL', `stream '${recordingId}' is full (max_viewers ${maxViewers})`);
  }
}

export class ProfileFullError extends DistributionError {
  constructor(profile: string) {
    super(
      'PROFILE_FULL',
      `no room for another viewer at '${profile}' or any lower profile`,
      'initial_bitrate',
    );
  }
}

export class ViewerNotFoundError extends DistributionError {
  constructor(recordingId: string, viewerId: string) {
    super(
      'VIEWER_NOT_FOUND',
      `viewer '${viewerId}' is not watching stream '${recordingId}'`,
      'viewer_id',
    );
  }
}

export class ViewerExistsError extends DistributionError {
  constructor(recordingId: string, viewerId: string) {
    super(
      'VIEWER_EXISTS',
      `viewer '${viewerId}' has already joined stream '${recordingId}'`,
      'viewer_id',
    );
  }
}

export class SegmentNotFoundError extends DistributionError {
  constructor(segmentId: string, profile: string) {
    super(
      'SEGMENT_NOT_FOUND',
      `segment '${segmentId}' is not available at '${profile}' (unknown or expired)`,
      'segment_id',
    );
  }
}

export class SegmentExistsError extends DistributionError {
  constructor(segmentId: string, profile: string) {
    super('SEGMENT_EXISTS', `segment '${segmentId}' at '${profile}' was already published`);
  }
}

export class ViewerBacklogFullError extends DistributionError {
  constructor(viewerId: string, limit: number) {
    super(
      'VIEWER_BACKLOG_FULL',
      `viewer '${viewerId}' already has ${limit} delivered segments it has not fetched`,
      'viewer_id',
    );
  }
}
