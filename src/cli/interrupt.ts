/**
 * Turns SIGINT/SIGTERM into an AbortSignal for the duration of one long CLI operation. The
 * signal's reason is a HOIST_INTERRUPTED error (exit 130) carrying `message`, so the command
 * that stops at a safe point says what state it left. A second Ctrl-C while it is cleaning up
 * (aborting a multipart upload) ends the process at once.
 */
import { HoistError } from '../errors.ts';
import { writeErr } from './output.ts';

export async function withInterrupt<T>(run: (signal: AbortSignal) => Promise<T>, message = 'interrupted'): Promise<T> {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (): void => {
    signals++;
    if (signals === 1) {
      controller.abort(new HoistError('HOIST_INTERRUPTED', message));
      return;
    }
    writeErr('\nhoist: interrupted again: exiting without waiting for the clean-up\n');
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await run(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
