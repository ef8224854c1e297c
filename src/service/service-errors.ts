import { DistributionError } from '../core/errors.js';

/** The delivery queue is at capacity; the client should retry later. */
export class QueueFullError extends DistributionError {
  constructor(capacity: number) {
    super('QUEUE_FULL', `the delivery queue is full (${capacity} tasks); retry later`);
  }
}

/** The service is draining for shutdown and takes no new work. */
export class ShuttingDownError extends DistributionError {
  constructor() {
    super('SHUTTING_DOWN', 'the server is shutting down and takes no new work');
  }
}

export class DeliveryNotFoundError extends DistributionError {
  constructor(deliveryId: string) {
    super('DELIVERY_NOT_FOUND', `delivery '${deliveryId}' is unknown or too old`, 'delivery_id');
  }
}
