/**
 * One HTTP POST of a notification channel (webhook, ntfy), its outcome as a coded delivery
 * error: any 2xx is delivered; a 4xx other than 408 and 429 can never succeed
 * (`ALERT_DELIVERY_FAILED`); every other status, a timeout or a network failure is retried.
 * Error messages name the channel, never the URL (it may carry a token).
 */
import { deliveryError, httpDeliveryCode } from '../core/alerts.js';
import { describeError } from '../core/errors.js';

/** Posts `body` to `url` within `timeoutMs`; throws a coded delivery error unless the answer is 2xx. */
export async function postForDelivery(
  channel: string,
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs = 15_000,
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      body,
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    throw deliveryError('ALERT_DELIVERY_RETRY', `${channel}: ${describeError(e)}`, e);
  }
  // The answer's body is not needed; reading it frees the connection.
  await res.arrayBuffer().catch(() => undefined);
  const code = httpDeliveryCode(res.status);
  if (code) throw deliveryError(code, `${channel}: HTTP ${res.status}`);
}
