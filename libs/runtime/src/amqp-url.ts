/**
 * AMQP URLs: the `AMQP_URL` list, its validation, and the only forms of a URL
 * that may reach output (redacted text, or host/port/vhost without credentials).
 */

import type { Options } from 'amqplib';
import { isIPv6 } from 'node:net';
import { ConfigError } from './config.error';

/** A validated URL in amqplib's object form; username and password already decoded. */
export interface AmqpConnectOptions extends Options.Connect {
  protocol: 'amqp' | 'amqps';
  /** Without brackets for IPv6, as `net.connect` wants it. */
  hostname: string;
  port: number;
  /** Undefined (amqplib then logs in as guest/guest) when the URL names no user and no password, as amqplib's string form does. */
  username?: string;
  password?: string;
  /** Percent-encoded: amqplib decodes the vhost itself (and treats '' as '/'). */
  vhost: string;
  heartbeat?: number;
  frameMax?: number;
}

const DEFAULT_PORTS = { amqp: 5672, amqps: 5671 } as const;
const SCHEME_AT_START = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;
/** A scheme that starts a new URL inside a text: at its start or after a list separator. */
const SCHEME_AFTER_SEPARATOR = /(^|[\s,;])[A-Za-z][A-Za-z0-9+.-]*:\/\//g;
const HOST_NAME = /^[A-Za-z0-9_.-]+$/;
const QUERY_LIMITS: Record<'heartbeat' | 'frameMax', readonly [number, number]> = {
  heartbeat: [0, 3600],
  frameMax: [4096, 2 ** 32 - 1],
};
const ENCODE_HINT = 'percent-encode "%" "," "/" "?" "#" "@" in a user name or password: %25 %2C %2F %3F %23 %40';

/**
 * Splits and validates a comma-separated list of amqp:// / amqps:// URLs.
 * Throws one ConfigError naming `variable` and every bad entry; its message
 * shows the value only through redactUrl.
 */
export function parseAmqpUrlList(value: string, variable: string): string[] {
  const text = value.trim();
  if (text === '') throw new ConfigError(variable, '', 'expected a comma-separated list of amqp:// or amqps:// URLs');
  const entries = text.split(',').map((entry) => entry.trim());
  const problems: string[] = [];
  entries.forEach((entry, i) => {
    const parsed = parseEntry(entry);
    if (typeof parsed === 'string') {
      const which = entries.length === 1 ? 'the URL' : `entry ${i + 1} of ${entries.length}`;
      problems.push(`${which} ${parsed}`);
    }
  });
  if (problems.length > 0) throw new ConfigError(variable, redactUrl(text), problems.join('; '));
  return entries;
}

/** One validated URL in amqplib's object form. Throws ConfigError (naming `variable`) if it is not valid. */
export function toConnectOptions(url: string, variable = 'AMQP_URL'): AmqpConnectOptions {
  const parsed = parseEntry(url.trim());
  if (typeof parsed === 'string') throw new ConfigError(variable, redactUrl(url), `the URL ${parsed}`);
  return parsed;
}

/**
 * "amqp://host:port/vhost" with no user name or password, for log lines,
 * health details and metric labels. The default vhost "/" shows as an empty
 * path. A URL that does not parse gives "amqp://(invalid URL)", never its text.
 */
export function describeEndpoint(url: string): string {
  const parsed = parseEntry(url.trim());
  if (typeof parsed === 'string') return 'amqp://(invalid URL)';
  const host = isIPv6(parsed.hostname) ? `[${parsed.hostname}]` : parsed.hostname;
  const vhost = decodeURIComponent(parsed.vhost);
  return `${parsed.protocol}://${host}:${parsed.port}/${vhost === '/' ? '' : encodeURIComponent(vhost)}`;
}

/**
 * Any text (a URL, a list of them, a log line) with every password replaced by
 * `***`: from `scheme://user:` to the last `@` of that URL, whether or not it
 * parses. Where the end of a password cannot be told, it hides more, never less.
 */
export function redactUrl(text: string): string {
  const starts = [0];
  for (const match of text.matchAll(SCHEME_AFTER_SEPARATOR)) {
    const start = match.index + match[1].length;
    if (start > 0) starts.push(start);
  }
  const pieces = starts.map((start, i) => text.slice(start, starts[i + 1]));
  const merged: string[] = [];
  let pending = '';
  for (const piece of pieces) {
    pending += piece;
    // No '@' yet after something that is not a port: the password may go on into the next piece.
    if (pending.includes('@') || !unclosedCredentials(pending)) {
      merged.push(pending);
      pending = '';
    }
  }
  if (pending !== '') merged.push(pending);
  return merged.map(redactPiece).join('');
}

/** Offset of the text after `scheme://` (0 if the piece has no scheme). */
function bodyStart(piece: string): number {
  return SCHEME_AT_START.exec(piece)?.[0].length ?? 0;
}

/** The first ':' after the scheme that is not inside an IPv6 literal, or -1. */
function firstColon(piece: string, from: number): number {
  const start = piece[from] === '[' && piece.includes(']', from) ? piece.indexOf(']', from) : from;
  return piece.indexOf(':', start);
}

/** True when `piece` has no '@' and what follows a ':' is not a port number (it may be the start of a password). */
function unclosedCredentials(piece: string): boolean {
  if (piece.includes('@')) return false;
  const colon = firstColon(piece, bodyStart(piece));
  return colon !== -1 && !/^\d+(?:[/?#,;\s]|$)/.test(piece.slice(colon + 1));
}

function redactPiece(piece: string): string {
  const start = bodyStart(piece);
  const at = piece.lastIndexOf('@');
  if (at >= start) {
    const colon = piece.indexOf(':', start);
    return colon !== -1 && colon < at ? `${piece.slice(0, colon + 1)}***${piece.slice(at)}` : piece;
  }
  if (!unclosedCredentials(piece)) return piece;
  const colon = firstColon(piece, start);
  const separators = /[\s,;]*$/.exec(piece)?.[0] ?? '';
  return `${piece.slice(0, colon + 1)}***${separators}`;
}

/**
 * One trimmed entry: the URL in amqplib's object form, or why it is not valid.
 * The reason never quotes any part of the entry, so it cannot carry a password.
 */
function parseEntry(entry: string): AmqpConnectOptions | string {
  if (entry === '') return 'is empty';
  if (/\s/.test(entry)) {
    return /\s[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(entry)
      ? 'looks like several URLs separated by spaces: separate them with commas'
      : 'contains whitespace (percent-encode it, e.g. %20)';
  }
  if (/;[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(entry))
    return 'looks like several URLs separated by ";": separate them with commas';
  if ([...entry].some((c) => c < ' ' || c === '\u007f')) return 'contains a control character';
  const scheme = SCHEME_AT_START.exec(entry);
  if (!scheme) return 'does not start with amqp:// or amqps:// (each entry of the list must be a full URL)';
  const protocol = scheme[1].toLowerCase();
  if (protocol !== 'amqp' && protocol !== 'amqps') return 'has a scheme other than amqp:// or amqps://';

  const rest = entry.slice(scheme[0].length);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
  const tail = authorityEnd === -1 ? '' : rest.slice(authorityEnd);
  if (tail.includes('@')) return `has an "@" after the host: ${ENCODE_HINT}, and write "@" in a vhost as %40`;

  const at = authority.lastIndexOf('@');
  const userinfo = at === -1 ? undefined : authority.slice(0, at);
  const endpoint = parseHostPort(authority.slice(at + 1), protocol);
  if (typeof endpoint === 'string') return userinfo === undefined ? `${endpoint} (${ENCODE_HINT})` : endpoint;

  const credentials = parseUserinfo(userinfo);
  if (typeof credentials === 'string') return credentials;

  const hash = tail.indexOf('#');
  if (hash !== -1) return 'has a fragment ("#..."), which an AMQP URL cannot have';
  const query = tail.indexOf('?');
  const path = query === -1 ? tail : tail.slice(0, query);
  const vhost = path.slice(1);
  if (vhost.includes('/')) return 'has a "/" in the vhost: write it as %2F';
  if (decode(vhost) === undefined) return 'has invalid percent-encoding in the vhost';
  const params = parseQuery(query === -1 ? '' : tail.slice(query + 1));
  if (typeof params === 'string') return params;

  return {
    protocol,
    ...endpoint,
    ...credentials,
    vhost: vhost === '' ? '' : encodeURIComponent(decode(vhost) ?? ''),
    ...params,
  };
}

function parseHostPort(text: string, protocol: 'amqp' | 'amqps'): { hostname: string; port: number } | string {
  let hostname: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    hostname = close === -1 ? '' : text.slice(1, close);
    const after = close === -1 ? '' : text.slice(close + 1);
    if (!isIPv6(hostname) || (after !== '' && !after.startsWith(':'))) return 'has an invalid IPv6 address';
    portText = after === '' ? undefined : after.slice(1);
  } else {
    const colon = text.indexOf(':');
    hostname = colon === -1 ? text : text.slice(0, colon);
    portText = colon === -1 ? undefined : text.slice(colon + 1);
    if (hostname === '') return 'has no host (an IPv6 address goes in brackets: amqp://[::1]:5672)';
    if (!HOST_NAME.test(hostname)) return 'has an invalid host name';
  }
  if (portText === undefined || portText === '') return { hostname, port: DEFAULT_PORTS[protocol] };
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
  if (!(port >= 1 && port <= 65_535)) return 'has a port that is not a number from 1 to 65535';
  return { hostname, port };
}

function parseUserinfo(userinfo: string | undefined): { username?: string; password?: string } | string {
  if (userinfo === undefined) return {};
  const colon = userinfo.indexOf(':');
  const username = decode(colon === -1 ? userinfo : userinfo.slice(0, colon));
  if (username === undefined) return 'has invalid percent-encoding in the user name';
  const password = colon === -1 ? '' : decode(userinfo.slice(colon + 1));
  if (password === undefined) return 'has invalid percent-encoding in the password';
  // amqplib's string form: "amqp://@host" and "amqp://:@host" log in as guest, like no user at all.
  return username === '' && password === '' ? {} : { username, password };
}

function parseQuery(query: string): { heartbeat?: number; frameMax?: number } | string {
  const params: { heartbeat?: number; frameMax?: number } = {};
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = eq === -1 ? pair : pair.slice(0, eq);
    const value = eq === -1 ? '' : pair.slice(eq + 1);
    if (key !== 'heartbeat' && key !== 'frameMax')
      return 'has an unsupported query parameter (supported: heartbeat, frameMax)';
    if (params[key] !== undefined) return `has the query parameter ${key} twice`;
    const [min, max] = QUERY_LIMITS[key];
    const n = /^\d{1,10}$/.test(value) ? Number(value) : Number.NaN;
    if (!(n >= min && n <= max)) return `has a query parameter ${key} that is not an integer from ${min} to ${max}`;
    params[key] = n;
  }
  return params;
}

/** Strict percent-decoding (UTF-8); undefined if malformed. */
function decode(text: string): string | undefined {
  if (/%(?![0-9A-Fa-f]{2})/.test(text)) return undefined;
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}
