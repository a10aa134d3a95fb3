/**
 * The example agent config: shipped as /etc/hoist/agent.yaml by the packages and shown in
 * docs/configuration.md. A test parses it, so it cannot fall out of step with the schema.
 */
export const EXAMPLE_CONFIG_YAML = `# hoist agent configuration. Reference: docs/configuration.md
# Durations: 200ms, 2s, 5m, 1h, 30d. Sizes: 64KiB, 4GiB (or a plain number of bytes).

hostId: auto                 # auto: EC2 instance id (IMDSv2), else the hostname; or a literal
region: us-east-1
endpoint: null               # optional S3/SQS endpoint override (tests, S3-compatible stores)
endpoints:                   # optional, one per service: VPC interface endpoints (docs/networking.md)
  s3: null
  sqs: null
stateDir: /var/lib/hoist

source:
  s3:                        # poll the channel and pin objects (an unchanged poll costs one 304)
    bucket: my-releases
    prefix: ""
    poll: "0 */5 * * * *"    # node-cron, 6 fields = with seconds; the default with sqs (a safety
                             # net), without sqs "*/30 * * * * *"
    jitter: 10s
  sqs:                       # optional: long-poll this host's queue for instant deploys
    queueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/web-prod-i-0abc"
    waitSeconds: 20

apps:
  - name: web
    env: prod
    root: /srv/web           # releases/<version>-<sha256[0..12]>/ and current -> releases/...
    keep: 5                  # releases kept on disk (never removes current or previous)
    user: web                # hooks and health commands run as this user (with its groups)
    writableRelease: false   # releases are root's, read-only to the app: write under shared/
    dedup: true              # hard-link files unchanged since the previous release (not with
                             # writableRelease: true)
    shared: [log, uploads]   # root/shared/<path> (the app user's) symlinked into each release
    hooks:                   # as the app user, cwd = new release dir; env HOIST_APP, HOIST_ENV,
      preActivate:  { run: "./bin/migrate", timeout: 10m }       # HOIST_VERSION, HOIST_RELEASE_DIR,
      postActivate: { run: "./bin/warm-cache", timeout: 1m }     # HOIST_PREVIOUS_DIR
    restart: { run: "systemctl restart web", timeout: 2m }       # as root, cwd = root
    health:
      http: { url: "http://127.0.0.1:8080/healthz", expectStatus: 200, bodyIncludes: "ok" }
      # or  tcp: "127.0.0.1:8080"   or  command: "./bin/check"
      timeout: 2s
      interval: 2s
      startPeriod: 60s       # how long the new release may take to become healthy
      successThreshold: 3    # consecutive successes to call it healthy
      bake: 5m               # keep probing after that; a failure inside bake still rolls back
    window: "* 2-4 * * 1-5"  # optional: activate only inside this node-cron window
    trust:                   # optional: prod needs CI plus one approver
      roles:
        release: { keys: [ci, alice, bob], threshold: 2 }
        pin:     { keys: [alice, bob],     threshold: 1 }

limits: { manifestBytes: 64KiB, artifactBytes: 4GiB, unpackedBytes: 16GiB, entries: 500000 }
report: { s3: true }         # write status/<app>/<env>/<host-id>.json after every change
log: { level: info, format: auto }   # auto: JSON lines with a <N> priority under systemd
                                     # (journalctl -p warning works), pretty on a TTY, else JSON

trust:                       # required: without a trust policy the agent refuses to start
  keys:                      # name -> PEM public key file (or the PEM text); key ids are computed
    ci:    /etc/hoist/keys/ci.pub
    alice: /etc/hoist/keys/alice.pub
    bob:   /etc/hoist/keys/bob.pub
  roles:
    release: { keys: [ci, alice, bob], threshold: 1 }
    pin:     { keys: [alice, bob],     threshold: 1 }
  maxValidity: 90d           # optional: reject manifests valid for longer than this
  clockSkew: 5m
  # root: { keys: [root1, root2, root3], threshold: 2 }   # optional: follow the signed trust
  #                          # document trust/root.json (docs/key-rotation.md); list root keys above
`;
