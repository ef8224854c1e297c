import { createHmac } from 'node:crypto';

/**
 * The `X-VTP-Signature` of a webhook body: HMAC-SHA256 of the exact bytes sent, keyed with the
 * webhook secret, in lowercase hex (README: Webhooks shows a receiver checking it).
 */
export function signWebhookBody(body: string, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}
