// The image's HEALTHCHECK: GET /health of the app this container runs (APP), on the port it listens on.
// Plain Node, because the slim base has no curl or wget. Exit 0 = healthy (200), 1 = anything else.
const http = require('node:http');

const worker = process.env.APP === 'fib-worker';
const port = Number((worker ? process.env.WORKER_HTTP_PORT : process.env.PORT) || (worker ? 3001 : 3000));
const request = http.get({ host: '127.0.0.1', port, path: '/health', timeout: 2500 }, (response) => {
  response.resume();
  process.exit(response.statusCode === 200 ? 0 : 1);
});
request.on('timeout', () => request.destroy(new Error('timed out')));
request.on('error', (error) => {
  process.stderr.write(`health check on port ${port}: ${error.message}\n`);
  process.exit(1);
});
