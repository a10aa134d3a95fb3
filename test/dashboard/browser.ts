/**
 * Debian's Chromium, headless, driven by puppeteer-core (which never downloads a browser): a
 * fresh profile per launch, no background or component-update traffic, and every request to
 * anything but loopback aborted and recorded, so a test can assert the page contacted nothing
 * else. Pages collect their errors, dialogs and CSP violations for the same reason.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface Chromium extends AsyncDisposable {
  readonly browser: Browser;
  /** A new page with its watchers installed. */
  page(): Promise<WatchedPage>;
  close(): Promise<void>;
}

export interface WatchedPage {
  readonly page: Page;
  /** Uncaught exceptions in the page. */
  readonly errors: string[];
  /** alert/confirm/prompt dialogs opened (and dismissed). */
  readonly dialogs: string[];
  /** Requests to anything but 127.0.0.1 (aborted). */
  readonly offHost: string[];
  /** Content-Security-Policy violations reported in the page. */
  cspViolations(): Promise<string[]>;
}

export async function launchChromium(): Promise<Chromium> {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'hoist-chromium-'));
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      userDataDir: profile,
      timeout: 30_000,
      protocolTimeout: 60_000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw error;
  }
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      await browser.close().catch(() => browser.process()?.kill('SIGKILL'));
      await rm(profile, { recursive: true, force: true });
    })();
    return closed;
  };
  return {
    browser,
    async page() {
      const page = await browser.newPage();
      page.setDefaultTimeout(30_000);
      page.setDefaultNavigationTimeout(30_000);
      const errors: string[] = [];
      const dialogs: string[] = [];
      const offHost: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('dialog', (d) => {
        dialogs.push(`${d.type()}: ${d.message()}`);
        void d.dismiss();
      });
      await page.setRequestInterception(true);
      page.on('request', (req) => {
        const url = new URL(req.url());
        if ((url.protocol === 'http:' && url.hostname === '127.0.0.1') || url.protocol === 'data:') {
          void req.continue();
        } else {
          offHost.push(req.url());
          void req.abort();
        }
      });
      // Page code as text: this project compiles without the DOM library.
      await page.evaluateOnNewDocument(`
        window.__csp = [];
        document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ': ' + e.blockedURI));
      `);
      return {
        page,
        errors,
        dialogs,
        offHost,
        cspViolations: () => inPage<string[]>(page, 'window.__csp || []'),
      };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Evaluates an expression in the page (as text, see above) and returns its JSON value. */
export async function inPage<T>(page: Page, expression: string): Promise<T> {
  return (await page.evaluate(`JSON.stringify(${expression})`).then((text) => JSON.parse(String(text)) as unknown)) as T;
}

/** Waits (bounded by the page's default timeout) until the expression is truthy. */
export async function until(page: Page, expression: string, timeoutMs = 30_000): Promise<void> {
  await page.waitForFunction(expression, { timeout: timeoutMs, polling: 100 });
}
