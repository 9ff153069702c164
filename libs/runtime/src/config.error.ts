/**
 * A variable that does not parse. The message is one line naming it; `value`
 * is the value as shown, already redacted where it may hold a password (never
 * the raw AMQP_URL), or undefined when the problem is the variable's absence.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    readonly variable: string,
    readonly value: string | undefined,
    readonly detail: string,
  ) {
    super(
      oneLine(
        value === undefined
          ? `invalid ${variable}: ${detail}`
          : `invalid ${variable}=${JSON.stringify(value)}: ${detail}`,
      ),
    );
  }
}

/** Control characters that would break the one line, escaped. */
function oneLine(text: string): string {
  return text.replace(/[\r\n\u0085\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
