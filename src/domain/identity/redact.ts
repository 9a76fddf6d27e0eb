/**
 * An approval token is a bearer credential: payloads are audited without it.
 * Pure, so workflows use it too.
 */
export function redactToken<T>(payload: T): T {
  if (typeof payload !== 'object' || payload === null || !('token' in payload) || payload.token === undefined)
    return payload;
  return { ...payload, token: '(redacted)' };
}
