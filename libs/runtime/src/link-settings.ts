import { AppConfig } from './env.config';

/** The broker settings both apps and the CLI connect with, from the validated configuration. */
export function linkSettings(config: AppConfig): {
  urls: readonly string[];
  heartbeatS: number;
  connectTimeoutMs: number;
  tls: AppConfig['amqpTls'];
  auth: AppConfig['amqpAuth'];
} {
  return {
    urls: config.amqpUrls,
    heartbeatS: config.amqpHeartbeatS,
    connectTimeoutMs: config.amqpConnectTimeoutMs,
    tls: config.amqpTls,
    auth: config.amqpAuth,
  };
}
