import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** docker-compose.yml must be valid for a real Compose (v1.29 here; no engine needed for `config`). */
describe('docker-compose.yml', () => {
  const root = join(__dirname, '../..');

  it('validates with docker-compose config and keeps the services the README describes', () => {
    const output = execFileSync('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, RABBITMQ_USER: 'u1', RABBITMQ_PASSWORD: 'p1' },
    });
    expect(output).toMatch(/^ {2}rabbitmq:$/m);
    expect(output).toMatch(/^ {2}gateway:$/m);
    expect(output).toMatch(/^ {2}fib-worker:$/m);
    expect(output).toMatch(/replicas: 3/);
    expect(output).toMatch(/condition: service_healthy/);
    expect(output).toMatch(/AMQP_URL: amqp:\/\/u1:p1@rabbitmq:5672/);
  });
});
