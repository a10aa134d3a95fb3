// Types for the untyped `systemd-notify` npm package (node_modules/systemd-notify/notify.js): it
// spawns /usr/bin/systemd-notify with --ready, --pid, --status and --booted, inheriting
// process.env, and rejects with the tool's stderr text (a string, not an Error) on failure.
declare module 'systemd-notify' {
  interface SystemdNotifyOptions {
    ready?: boolean;
    status?: string;
    pid?: number;
    booted?: boolean;
  }
  function notify(options?: SystemdNotifyOptions): Promise<unknown>;
  export default notify;
}
