import type { LiveDistributor } from '../core/distributor.js';
import type { DistributionService } from './distribution-service.js';

/**
 * Calls `listener` for every published segment that raised its stream's target duration: an
 * encoder that broke its segment-length promise (`LiveDistributor.targetDurationRaises` counts
 * them; the target is otherwise fixed for the stream's life, see docs/architecture.md). Per
 * segment this costs a lookup of its stream and a comparison.
 */
export function onTargetDurationRaised(
  service: DistributionService,
  listener: (raise: { recordingId: string; at: number; count: number }) => void,
): void {
  // Per distributor, so a reused recording id (a new distributor counting from 0) starts afresh.
  const seen = new WeakMap<LiveDistributor, number>();
  service.events.on('segment_published', ({ recordingId, at }) => {
    const distributor = service.getDistributor(recordingId);
    const raises = distributor.targetDurationRaises;
    const before = seen.get(distributor) ?? 0;
    if (raises === before) return;
    seen.set(distributor, raises);
    listener({ recordingId, at, count: raises - before });
  });
}

/**
 * Remembers when each stream's target duration was last raised, for health; a removed stream is
 * forgotten. Returns the lookup.
 */
export function watchTargetDurationRaises(
  service: DistributionService,
): (recordingId: string) => number | undefined {
  const lastAt = new Map<string, number>();
  onTargetDurationRaised(service, ({ recordingId, at }) => lastAt.set(recordingId, at));
  service.onStreamRetired((recordingId) => lastAt.delete(recordingId));
  return (recordingId) => lastAt.get(recordingId);
}
