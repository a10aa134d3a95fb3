/** Every family the agent exports, with the type and labels each must have (the list docs/metrics.md documents). */
export const FAMILIES: ReadonlyArray<[name: string, type: string, labels: readonly string[]]> = [
  ['hoist_deploys_total', 'counter', ['app', 'env', 'outcome']],
  ['hoist_deploy_duration_seconds', 'histogram', ['app', 'env', 'phase']],
  ['hoist_release_info', 'gauge', ['app', 'env', 'version', 'sha256']],
  ['hoist_state', 'gauge', ['app', 'env', 'state']],
  ['hoist_manifests_rejected_total', 'counter', ['app', 'env', 'code']],
  ['hoist_last_poll_timestamp_seconds', 'gauge', []],
  ['hoist_trust_expires_timestamp_seconds', 'gauge', []],
];
