/**
 * The agent's state in memory, persisted atomically on every change, with a hook that reports the
 * change (status object in S3, systemd STATUS=). Updates are serialized so two apps deploying in
 * parallel never write state.json over each other.
 */
import { saveState, getAppState, withAppState } from '../state/store.ts';
import type { AgentState, AppState } from '../state/schema.ts';
import type { StateKeeper } from './types.ts';

export function createStateKeeper(
  stateDir: string,
  initial: AgentState,
  onChange: (key: string, app: AppState) => void,
): StateKeeper {
  let state = initial;
  let chain: Promise<unknown> = Promise.resolve();
  return {
    get state() {
      return state;
    },
    app(key) {
      return getAppState(state, key);
    },
    update(key, fn) {
      const run = async (): Promise<AppState> => {
        const next = withAppState(state, key, fn);
        await saveState(stateDir, next);
        state = next;
        const app = getAppState(state, key);
        onChange(key, app);
        return app;
      };
      const result = chain.then(run, run);
      chain = result.catch(() => undefined);
      return result;
    },
  };
}
