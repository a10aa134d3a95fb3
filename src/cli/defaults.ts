/** Defaults shared by the commands that read the agent config. */
export const DEFAULT_CONFIG = '/etc/hoist/agent.yaml';
