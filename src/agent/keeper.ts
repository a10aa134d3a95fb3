/**
 * The agent's state in memory, persisted atomically on every change, with a hook that reports the
 * change (status object in S3, systemd STATUS=). Updates are serialized so two apps deploying in
 * parallel never write state.json over each other.
 *
 * A full disk: a save that fails for lack of space first asks `reclaim` to free some (the
 * download cache's partial files) and tries once more. An update that must not wait for the disk
 * (`bestEffort`: what happened after a flip has happened) still changes the state in memory and
 * in the reports; it reaches state.json with the next save that succeeds.
 */
import { isHoistError } from '../errors.ts';
import { saveState, getAppState, withAppState } from '../state/store.ts';
import type { AgentState, AppState } from '../state/schema.ts';
import type { StateKeeper } from './types.ts';

export interface KeeperHooks {
  readonly onChange: (key: string, app: AppState) => void;
  /** Frees space after a save failed with HOIST_NO_SPACE; true when something was freed. */
  readonly reclaim?: () => Promise<boolean>;
  /** A best-effort update could not be saved (it stays in memory). */
  readonly onUnsaved?: (error: unknown) => void;
}

export function createStateKeeper(stateDir: string, initial: AgentState, hooks: KeeperHooks | ((key: string, app: AppState) => void)): StateKeeper {
  const { onChange, reclaim, onUnsaved } = typeof hooks === 'function' ? { onChange: hooks, reclaim: undefined, onUnsaved: undefined } : hooks;
  let state = initial;
  let chain: Promise<unknown> = Promise.resolve();
  const save = async (next: AgentState): Promise<void> => {
    try {
      await saveState(stateDir, next);
    } catch (error) {
      if (!isHoistError(error, 'HOIST_NO_SPACE') || reclaim === undefined || !(await reclaim())) throw error;
      await saveState(stateDir, next);
    }
  };
  return {
    get state() {
      return state;
    },
    app(key) {
      return getAppState(state, key);
    },
    update(key, fn, options = {}) {
      const run = async (): Promise<AppState> => {
        const next = withAppState(state, key, fn);
        try {
          await save(next);
        } catch (error) {
          if (options.bestEffort !== true) throw error;
          onUnsaved?.(error);
        }
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
