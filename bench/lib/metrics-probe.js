// A bare process for bench/idle-metrics.ts: hoist's metric families in a private registry, served
// on a free loopback port (printed on stdout), with prom-client's default process metrics when
// HOIST_PROBE_DEFAULTS=1. Bundled by esbuild and run like the agent.
import { createServer } from 'node:http';
import { collectDefaultMetrics } from 'prom-client';
import { createFamilies } from '../../src/metrics/families.ts';

const { registry } = createFamilies();
if (process.env.HOIST_PROBE_DEFAULTS === '1') collectDefaultMetrics({ register: registry });
const server = createServer((req, res) => {
  void registry.metrics().then((text) => {
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(text);
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${server.address().port}/metrics\n`);
});
