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
