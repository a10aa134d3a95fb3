/** Metrics in the real agent process: created from the config, served, closed on SIGTERM. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { createHarness, type Harness } from '../helpers/harness.ts';
import { parseExposition } from '../helpers/prometheus-text.ts';
import { FAMILIES } from '../helpers/metric-families.ts';

async function withMetrics(h: Harness, metrics: Record<string, unknown>): Promise<void> {
  await h.writeConfig();
  const config = parse(await readFile(h.configPath, 'utf8')) as Record<string, unknown>;
  await writeFile(h.configPath, stringify({ ...config, metrics }));
}

/** A loopback port held by a plain TCP server until released. */
async function holdPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

async function freePort(): Promise<number> {
  const { port, server } = await holdPort();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('the daemon serves every family on metrics.listen and stops listening on SIGTERM', async () => {
  await using h = await createHarness();
  const port = await freePort();
  await withMetrics(h, { listen: `127.0.0.1:${port}` });
  await h.publish('1', await h.artifact('1'));
  const agent = h.start();
  const on = await agent.waitFor((l) => l.msg === 'metrics on');
  assert.equal(on.url, `http://127.0.0.1:${port}/metrics`);
  await agent.waitFor((l) => l.msg === 'ready');
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  const families = parseExposition(await res.text());
  for (const [name, type] of FAMILIES) assert.equal(families.get(name)?.type, type, name);
  agent.kill('SIGTERM');
  const exit = await agent.exited;
  assert.equal(exit.code, 0, exit.stderr);
  await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`), (e: unknown) => {
    assert.equal((e as { cause?: { code?: string } }).cause?.code, 'ECONNREFUSED');
    return true;
  });
});

test('--once with metrics.textfile leaves a complete textfile behind', async () => {
  await using h = await createHarness();
  const file = path.join(h.dir, 'hoist.prom');
  await withMetrics(h, { textfile: file });
  await h.publish('1', await h.artifact('1'));
  const out = await h.once();
  assert.equal(out.code, 0, out.stdout + out.stderr);
  const text = await readFile(file, 'utf8');
  const families = parseExposition(text);
  assert.deepEqual([...families.keys()].sort(), FAMILIES.map(([n]) => n).sort());
  // the deploy moved the counters and set the release and state gauges
  assert.match(text, /^hoist_deploys_total\{app="web",env="prod",outcome="healthy"\} 1$/m);
  assert.match(text, /^hoist_deploy_duration_seconds_count\{app="web",env="prod",phase="health"\} 1$/m);
  assert.match(text, /^hoist_release_info\{app="web",env="prod",version="1",sha256="[0-9a-f]{64}"\} 1$/m);
  assert.match(text, /^hoist_state\{app="web",env="prod",state="healthy"\} 1$/m);
  assert.match(text, /^hoist_last_poll_timestamp_seconds [1-9]\d*(\.\d+)?$/m);
});

test('a rejected manifest counts in hoist_manifests_rejected_total with its code', async () => {
  await using h = await createHarness();
  const file = path.join(h.dir, 'hoist.prom');
  await withMetrics(h, { textfile: file });
  const v1 = await h.artifact('1');
  const text = await h.publish('1', v1);
  const env = JSON.parse(text) as { signatures: Array<{ keyid: string; sig: string }> };
  env.signatures = [{ keyid: 'f'.repeat(64), sig: env.signatures[0]?.sig ?? '' }];
  await h.putChannel(JSON.stringify(env));
  assert.equal((await h.once()).code, 1);
  assert.match(await readFile(file, 'utf8'), /^hoist_manifests_rejected_total\{app="web",env="prod",code="HOIST_SIGNATURE_UNTRUSTED"\} 1$/m);
});

test('a metrics port already taken is logged at error and the agent still deploys', async () => {
  await using h = await createHarness();
  const held = await holdPort();
  try {
    await withMetrics(h, { listen: `127.0.0.1:${held.port}` });
    await h.publish('1', await h.artifact('1'));
    const out = await h.once();
    assert.equal(out.code, 0, out.stdout + out.stderr);
    const lines = out.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const error = lines.find((l) => l.code === 'HOIST_METRICS_UNAVAILABLE');
    assert.equal(error?.level, 'error');
    assert.match(String(error?.err), /EADDRINUSE/);
    assert.ok(await h.settledOn('1'));
  } finally {
    held.server.close();
  }
});
