import type { DeliveryPoolStats } from './delivery-pool.js';

export interface HealthReport {
  readonly status: 'healthy' | 'degraded';
  readonly accepting: boolean;
  readonly reasons: string[];
}

/** Failure share of recent delivery attempts above which health reports degraded. */
const DEGRADED_FAILURE_RATE = 0.1;
/** Queue fill above which health reports degraded. */
const DEGRADED_QUEUE_FILL = 0.9;

/**
 * Healthy unless draining, the delivery queue is nearly full, or recent deliveries fail;
 * `otherReasons` (shared state unreachable, say) degrade it too.
 */
export function deliveryHealth(
  queue: DeliveryPoolStats,
  accepting: boolean,
  otherReasons: readonly string[] = [],
): HealthReport {
  const reasons: string[] = [];
  if (!accepting) reasons.push('shutting down');
  if (queue.queued >= queue.queueCapacity * DEGRADED_QUEUE_FILL) {
    reasons.push(`delivery queue ${queue.queued}/${queue.queueCapacity}`);
  }
  if (queue.recentFailureRate > DEGRADED_FAILURE_RATE) {
    reasons.push(
      `${Math.round(queue.recentFailureRate * 100)}% of recent delivery attempts failed`,
    );
  }
  reasons.push(...otherReasons);
  return { status: reasons.length ? 'degraded' : 'healthy', accepting, reasons };
}
