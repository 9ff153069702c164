import { backoffDelayMs, redactUrl } from './amqp-connection';

describe('backoffDelayMs', () => {
  it('doubles from min and is capped at max', () => {
    const range = [100, 5000] as const;
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(5000, 100 * 2 ** attempt);
      const delay = backoffDelayMs(attempt, range);
      expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delay).toBeLessThanOrEqual(ceiling);
    }
  });
});

describe('redactUrl', () => {
  it('hides the password', () => {
    expect(redactUrl('amqp://guest:secret@host:5672/vh')).toBe('amqp://guest:***@host:5672/vh');
    expect(redactUrl('amqp://host')).toBe('amqp://host');
  });
});
