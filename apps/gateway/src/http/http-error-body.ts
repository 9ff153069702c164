import { STATUS_CODES } from 'node:http';

/** Nest's error body shape, `error` being the status's reason phrase. */
export interface HttpErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

export function httpErrorBody(statusCode: number, message: string): HttpErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

const SHOWN_CHARS = 32;

/** `text` for a message: whole when short, else its first characters and its length, never a huge input. */
export function shortText(text: string): string {
  const shown = text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}… (${text.length} chars)` : text;
  return JSON.stringify(shown);
}
