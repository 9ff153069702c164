// TEMPORARY stub until the config helper's amqp-url.ts lands (replaced wholesale on merge).
export function redactUrl(text: string): string {
  return text.replace(/\/\/([^:@/]*):[^,]*@/g, '//$1:***@');
}
export function describeEndpoint(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.hostname}:${u.port || (u.protocol === 'amqps:' ? 5671 : 5672)}${u.pathname || '/'}`;
}
export interface AmqpConnectOptions {
  protocol: 'amqp' | 'amqps';
  hostname: string;
  port: number;
  username: string;
  password: string;
  vhost?: string;
  heartbeat?: number;
  frameMax?: number;
}
export function toConnectOptions(url: string): AmqpConnectOptions {
  const u = new URL(url);
  const protocol = u.protocol === 'amqps:' ? 'amqps' : 'amqp';
  const heartbeat = u.searchParams.get('heartbeat');
  return {
    protocol,
    hostname: u.hostname.replace(/^\[|\]$/g, ''),
    port: Number(u.port) || (protocol === 'amqps' ? 5671 : 5672),
    username: u.username === '' && u.password === '' ? 'guest' : decodeURIComponent(u.username),
    password: u.username === '' && u.password === '' ? 'guest' : decodeURIComponent(u.password),
    vhost: u.pathname.length > 1 ? u.pathname.slice(1) : undefined,
    heartbeat: heartbeat === null ? undefined : Number(heartbeat),
  };
}
