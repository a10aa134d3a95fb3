/**
 * Proxy settings from the environment, pure: `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY`, in
 * either case (the lower-case variable wins when both are set, as in Node and curl).
 *
 * The requests themselves go through Node's own proxy support (`new https.Agent({ proxyEnv })`:
 * CONNECT tunnels for https endpoints, absolute-URI requests for http ones). Its `NO_PROXY`
 * matching is narrower than what operators expect from curl, so the list is rewritten first:
 * `example.com`, `.example.com` and `*.example.com` all mean "example.com and every name under
 * it" (Node reads `.example.com` so), `*` alone bypasses the proxy for everything, IP addresses
 * and `host:port` entries match exactly. `proxyFor` answers the same question for one URL, for
 * messages and logs.
 */

export interface ProxySettings {
  /** Proxy for http:// endpoints (HTTP_PROXY), or undefined. */
  readonly http: string | undefined;
  /** Proxy for https:// endpoints (HTTPS_PROXY), or undefined. */
  readonly https: string | undefined;
  /** NO_PROXY, normalized: `*`, `.suffix`, an exact IP, or an exact `host:port`. */
  readonly noProxy: readonly string[];
}

export type ProxyEnv = Readonly<Record<string, string | undefined>>;

function pick(env: ProxyEnv, name: string): string | undefined {
  const lower = env[name.toLowerCase()];
  const value = lower !== undefined && lower.trim() !== '' ? lower : env[name.toUpperCase()];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** `proxy:3128` means `http://proxy:3128`, as curl reads it. */
function proxyUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
}

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/** One NO_PROXY entry in Node's syntax, or undefined for an empty one. */
export function normalizeNoProxyEntry(raw: string): string | undefined {
  const entry = raw.trim().toLowerCase();
  if (entry === '') return undefined;
  if (entry === '*') return '*';
  if (IPV4.test(entry) || entry.startsWith('[') || entry.includes('::')) return entry;
  const base = entry.replace(/^\*?\./, '');
  if (base === '') return undefined;
  // host:port: Node matches it exactly (no suffix form with a port).
  if (/:\d+$/.test(base)) return base;
  return `.${base}`;
}

export function proxySettings(env: ProxyEnv): ProxySettings {
  const list = pick(env, 'no_proxy') ?? '';
  const noProxy = [...new Set(list.split(/[,\s]+/).map(normalizeNoProxyEntry).filter((e): e is string => e !== undefined))];
  return { http: proxyUrl(pick(env, 'http_proxy')), https: proxyUrl(pick(env, 'https_proxy')), noProxy };
}

/** True when a proxy is configured for either scheme. */
export function hasProxy(settings: ProxySettings): boolean {
  return settings.http !== undefined || settings.https !== undefined;
}

/** What Node's agents read (`proxyEnv`): upper-case names, NO_PROXY in the normalized form. */
export function nodeProxyEnv(settings: ProxySettings): Record<string, string> {
  return {
    ...(settings.http === undefined ? {} : { HTTP_PROXY: settings.http }),
    ...(settings.https === undefined ? {} : { HTTPS_PROXY: settings.https }),
    ...(settings.noProxy.length === 0 ? {} : { NO_PROXY: settings.noProxy.join(',') }),
  };
}

function bypassed(host: string, port: string, noProxy: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return noProxy.some((entry) => {
    if (entry === '*') return true;
    if (entry.startsWith('.')) {
      const base = entry.slice(1);
      return h === base || h.endsWith(entry);
    }
    const withPort = /^(.*):(\d+)$/.exec(entry);
    if (withPort !== null && !entry.startsWith('[') && !entry.includes('::')) return withPort[1] === h && withPort[2] === port;
    return entry.replace(/^\[(.*)\]$/, '$1') === h;
  });
}

/** The proxy a request to `url` goes through, or undefined when it goes direct. */
export function proxyFor(url: string | URL, settings: ProxySettings): string | undefined {
  const u = typeof url === 'string' ? new URL(url) : url;
  const proxy = u.protocol === 'https:' ? settings.https : u.protocol === 'http:' ? settings.http : undefined;
  if (proxy === undefined) return undefined;
  const port = u.port !== '' ? u.port : u.protocol === 'https:' ? '443' : '80';
  return bypassed(u.hostname, port, settings.noProxy) ? undefined : proxy;
}

/** A proxy URL fit for a message: user and password removed. */
export function redactProxy(proxy: string): string {
  try {
    const u = new URL(proxy);
    if (u.username === '' && u.password === '') return proxy;
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(unparsable proxy URL)';
  }
}
