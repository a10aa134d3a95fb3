import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createNotifier, formatStatusLine } from '../../src/systemd/notify.ts';

// A stand-in for systemd's notify socket: prints every datagram (JSON-quoted) on its own line,
// skipping systemd-notify's BARRIER=1 handshakes. It keeps listening (so the handshake after the
// last message still finds it) until the test kills it, or 20 s pass.
const LISTENER = `
import json, socket, sys, time
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print("listening", flush=True)
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    s.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        data = s.recv(65536).decode()
    except socket.timeout:
        break
    if data != "BARRIER=1":
        print(json.dumps(data), flush=True)
`;

/** Starts the listener; messages() resolves once `count` messages arrived (or the listener gave up). */
async function listen(t: { after(fn: () => Promise<void> | void): void }, count: number): Promise<{ socket: string; messages: () => Promise<string[]> }> {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-notify-'));
  const socket = join(dir, 'notify.sock');
  const child = spawn('python3', ['-c', LISTENER, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'close');
    }
    await rm(dir, { recursive: true, force: true });
  });
  const lines = createInterface({ input: child.stdout });
  const received: string[] = [];
  let listening!: () => void;
  let enough!: () => void;
  const ready = new Promise<void>((resolve) => (listening = resolve));
  const done = new Promise<void>((resolve) => (enough = resolve));
  lines.on('line', (line) => {
    if (line === 'listening') listening();
    else if (received.push(JSON.parse(line) as string) >= count) enough();
  });
  child.on('close', () => enough());
  await ready;
  return {
    socket,
    messages: async () => {
      await done;
      return received.slice(0, count);
    },
  };
}

/** Runs fn with process.env.NOTIFY_SOCKET set: the systemd-notify package reads process.env. */
async function withNotifySocket<T>(socket: string | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = process.env['NOTIFY_SOCKET'];
  if (socket === undefined) delete process.env['NOTIFY_SOCKET'];
  else process.env['NOTIFY_SOCKET'] = socket;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env['NOTIFY_SOCKET'];
    else process.env['NOTIFY_SOCKET'] = saved;
  }
}

test('formatStatusLine', () => {
  assert.equal(
    formatStatusLine([
      { app: 'web', version: '1.4.2', state: 'healthy' },
      { app: 'api', version: '2.0.1', state: 'deploying' },
    ]),
    'web@1.4.2 healthy; api@2.0.1 deploying',
  );
  assert.equal(formatStatusLine([{ app: 'web', state: 'idle' }]), 'web (none) idle');
  assert.equal(formatStatusLine([]), 'no apps configured');
});

test('READY, STATUS, WATCHDOG, STOPPING and RELOADING reach a real notify socket, in order', async (t) => {
  const listener = await listen(t, 5);
  const errors: unknown[] = [];
  await withNotifySocket(listener.socket, async () => {
    const notifier = createNotifier({ onError: (err) => errors.push(err) });
    assert.equal(notifier.enabled, true);
    // Not awaited one by one: the notifier itself must keep them in order.
    const sent = [
      notifier.ready(),
      notifier.status('web@1.4.2 healthy;\napi (none) idle'),
      notifier.watchdog(),
      notifier.reloading(),
      notifier.stopping(),
    ];
    await Promise.all(sent);
  });
  const messages = await listener.messages();
  assert.deepEqual(errors, []);
  assert.equal(messages.length, 5, JSON.stringify(messages));
  const [ready = [], status, watchdog, reloading = [], stopping] = messages.map((m) => m.split('\n'));
  assert.ok(ready.includes('READY=1'), JSON.stringify(ready));
  assert.ok(ready.includes(`MAINPID=${String(process.pid)}`));
  assert.ok(status?.includes('STATUS=web@1.4.2 healthy; api (none) idle'), JSON.stringify(status));
  assert.ok(watchdog?.includes('WATCHDOG=1'), JSON.stringify(watchdog));
  assert.ok(reloading.includes('RELOADING=1'), JSON.stringify(reloading));
  assert.ok(reloading.some((line) => /^MONOTONIC_USEC=\d+$/.test(line)));
  assert.ok(stopping?.includes('STOPPING=1'), JSON.stringify(stopping));
});

test('ready() can carry a STATUS in the same message', async (t) => {
  const listener = await listen(t, 1);
  await withNotifySocket(listener.socket, () => createNotifier().ready('web (none) idle'));
  const [message = ''] = await listener.messages();
  assert.ok(message.split('\n').includes('READY=1'));
  assert.ok(message.split('\n').includes('STATUS=web (none) idle'));
});

test('startWatchdog pings WATCHDOG=1 on an interval until stopped', async (t) => {
  const listener = await listen(t, 3);
  const env = { NOTIFY_SOCKET: listener.socket, WATCHDOG_USEC: '200000', WATCHDOG_PID: String(process.pid) };
  const notifier = createNotifier({ env });
  assert.equal(notifier.watchdogIntervalMs(), 100);
  const watchdog = notifier.startWatchdog();
  const messages = await listener.messages();
  watchdog.stop();
  assert.deepEqual(messages, ['WATCHDOG=1', 'WATCHDOG=1', 'WATCHDOG=1'].map((m) => `MAINPID=${String(process.pid)}\n${m}`));
});

test('without NOTIFY_SOCKET every call is a no-op', async () => {
  await withNotifySocket(undefined, async () => {
    const errors: unknown[] = [];
    const notifier = createNotifier({ onError: (err) => errors.push(err) });
    assert.equal(notifier.enabled, false);
    await notifier.ready();
    await notifier.status('x');
    await notifier.watchdog();
    await notifier.stopping();
    await notifier.reloading();
    assert.equal(notifier.watchdogIntervalMs(), undefined);
    notifier.startWatchdog().stop();
    assert.deepEqual(errors, []);
  });
});

test('watchdogIntervalMs is half of WATCHDOG_USEC, only for our pid', () => {
  const pid = 4242;
  const interval = (env: NodeJS.ProcessEnv): number | undefined => createNotifier({ env, pid }).watchdogIntervalMs();
  assert.equal(interval({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '30000000' }), 15_000);
  assert.equal(interval({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '4242' }), 15_000);
  assert.equal(interval({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }), undefined);
  assert.equal(interval({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: 'soon' }), undefined);
  assert.equal(interval({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '0' }), undefined);
  assert.equal(interval({ NOTIFY_SOCKET: '/run/x' }), undefined);
  assert.equal(interval({ WATCHDOG_USEC: '30000000' }), undefined);
  assert.equal(interval({ NOTIFY_SOCKET: '', WATCHDOG_USEC: '30000000' }), undefined);
});

test('a failed notification is reported to onError and never throws', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-notify-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const nowhere = join(dir, 'no-listener.sock');
  const errors: unknown[] = [];
  await withNotifySocket(nowhere, async () => {
    const notifier = createNotifier({ onError: (err) => errors.push(err) });
    await notifier.ready();
    await notifier.watchdog();
    await notifier.status('still fine');
  });
  assert.equal(errors.length, 3);
  for (const err of errors) assert.ok(err instanceof Error && err.message.length > 0, String(err));
  // The default onError swallows failures too.
  await withNotifySocket(nowhere, () => createNotifier().stopping());
});
