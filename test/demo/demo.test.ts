import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const DEMO = fileURLToPath(new URL('../../scripts/demo.ts', import.meta.url));

test('npm run demo: v1, v2, a v3 that halts after its canary rolls back, and a pin converge, and everything is cleaned up', { timeout: 180_000 }, async () => {
  const child = spawn(process.execPath, [DEMO], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 170_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, `${stdout}\n${stderr}`);
  for (const step of ['step 1: publish 1.0.0', 'step 2: publish 2.0.0', 'step 3: publish 3.0.0', 'step 4: an operator pins host-b']) {
    assert.ok(stdout.includes(step), step);
  }
  assert.match(stdout, /^ {2}AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \S+ \S*bin\/hoist\.js dashboard --bucket hoist-demo --endpoint http:\/\/127\.0\.0\.1:\d+ --region us-east-1 --trust \S+\/trust\.json --refresh 1s$/m, 'the demo prints the dashboard command for its bucket');
  const finalTable = stdout.slice(stdout.lastIndexOf('HOST '));
  assert.match(stdout, /^ {2}HALTED /m, 'rollout status shows the halt');
  assert.match(stdout, /hoist: HOIST_ROLLOUT_HALTED: [^\n]*\n {2}\(exit 1\)$/m);
  assert.match(finalTable, /^host-a +2\.0\.0 +\S+ +halted /m);
  assert.match(finalTable, /^host-b +1\.0\.0 +\S+( \(pin\))? +pinned /m);
  assert.match(finalTable, /^host-c +2\.0\.0 +\S+ +halted /m);
  assert.match(finalTable, /versions: 1\.0\.0 on 1 host, 2\.0\.0 on 2 hosts/);
  const dir = /keys\/ci\.key/.test(stdout) ? /(\/\S+hoist-fleet-[^/\s]+)\//.exec(stdout)?.[1] : undefined;
  assert.ok(dir !== undefined, 'the demo prints its temp dir');
  const { existsSync } = await import('node:fs');
  assert.equal(existsSync(dir), false, 'the temp dir was removed');
});
