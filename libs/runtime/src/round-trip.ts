/**
 * Waits for a broker round trip at most `timeoutMs`: its value, or 'silent'
 * when no answer came in time (a half-open link or a frozen node says nothing;
 * only a question it fails to answer tells). Never rejects: a failed round
 * trip is `onError`'s value.
 */
export async function boundedRoundTrip<T, E>(
  roundTrip: Promise<T>,
  timeoutMs: number,
  onError: (error: unknown) => E,
): Promise<T | E | 'silent'> {
  let timer: NodeJS.Timeout | undefined;
  const silent = new Promise<'silent'>((resolve) => {
    timer = setTimeout(() => resolve('silent'), timeoutMs);
  });
  try {
    return await Promise.race([roundTrip.catch(onError), silent]);
  } finally {
    clearTimeout(timer);
  }
}
