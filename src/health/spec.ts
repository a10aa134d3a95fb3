/** What a health probe checks, as the agent config's `health:` block describes it. */

export interface HttpProbeSpec {
  readonly url: string;
  readonly expectStatus: number;
  readonly bodyIncludes?: string;
}

export interface HealthSpec {
  readonly http?: HttpProbeSpec;
  /** `host:port`, `[v6]:port`. */
  readonly tcp?: string;
  /** Run with /bin/sh -c in the release dir; exit 0 means healthy. */
  readonly command?: string;
}

export interface ProbeResult {
  readonly ok: boolean;
  /** "HTTP 200", "HTTP 500 (expected 200)", "connect ECONNREFUSED 127.0.0.1:8080", "timed out after 2s". */
  readonly detail: string;
  /**
   * A failure the app itself answered (an HTTP status or body, a command's exit code), as opposed
   * to nothing answering yet (refused, timed out): only answers count toward failureThreshold
   * while the app is starting.
   */
  readonly answered?: boolean;
}

export interface ProbeOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}
