/**
 * Whether a failed `fetch` never reached the other side: no connection was made (refused, no such
 * host, no route), so nothing was sent. A supplier connector can then answer "not now" (a retryable
 * failure: the order is known not to be there) instead of throwing, which would leave the order
 * unsure and asked about before it is sent again. A reset or a timeout after connecting is not
 * one of these: the request may have arrived.
 */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export function neverSent(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string; errors?: Array<{ code?: string }> } } | null)?.cause;
  if (!cause) return false;
  if (cause.code && NOT_CONNECTED.has(cause.code)) return true;
  // Several addresses tried (IPv4 and IPv6): none connected.
  return Array.isArray(cause.errors) && cause.errors.length > 0 && cause.errors.every((e) => e.code !== undefined && NOT_CONNECTED.has(e.code));
}
