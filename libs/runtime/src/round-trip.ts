/**
 * Waits for a broker round trip at most `timeoutMs`: its answer, or 'silent'
 * when none came in time (a half-open link or a frozen node says nothing; only
 * a question it fails to answer tells). While `isBlocked()` — a resource
 * alarm: RabbitMQ stops reading a blocked connection's socket until it
 * unblocks it — no answer is expected and the link is not silent (the
 * heartbeat still guards it), so the wait goes on. `asking` must not reject.
 */
export async function askWithin<T>(
  asking: Promise<T>,
  timeoutMs: number,
  isBlocked: () => boolean,
): Promise<T | 'silent'> {
  let timer: NodeJS.Timeout | undefined;
  const silent = new Promise<'silent'>((resolve) => {
    timer = setTimeout(() => resolve('silent'), timeoutMs);
  });
  try {
    const answer = await Promise.race([asking, silent]);
    return answer === 'silent' && isBlocked() ? await asking : answer;
  } finally {
    clearTimeout(timer);
  }
}
