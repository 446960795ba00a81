/**
 * The sign-in with a real browser: the built CLI under a real SDK client, the lab on 127.0.0.1,
 * the Secret Service keychain, and the identity provider's login and consent pages driven in
 * headless Chromium (playwright-core, Debian's /usr/bin/chromium).
 *
 *   npx tsc -p tsconfig.json && bash scripts/with-keyring.sh npx vitest run test/e2e/signin.chromium.test.ts
 *
 * $BROWSER is the scripted browser in record-only mode (LAB_BROWSER_NOOP=1): it hands the URL the
 * bridge opened to this test, which then opens it in Chromium like the user's browser would.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { assertStdoutIsJsonRpc } from './harness/bridgeProcess.js';
import { launches, sdkClient, startBridge, startOAuthLab, waitUntil, whoami, workspace, type Cleanup } from './harness/signinWorkspace.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = '/tmp/keybridge-login.png';
const hasChromium = existsSync(CHROMIUM);
const hasSessionBus = Boolean(process.env.DBUS_SESSION_BUS_ADDRESS);
if (!hasChromium) console.warn(`signin.chromium: ${CHROMIUM} is missing (apt-get install chromium), skipping the real-browser sign-in.`);
if (!hasSessionBus) console.warn('signin.chromium: no DBUS_SESSION_BUS_ADDRESS, skipping; run under `bash scripts/with-keyring.sh`.');

const cleanups: Cleanup[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

describe('sign-in in a real browser', () => {
  it.skipIf(!hasChromium || !hasSessionBus)(
    'a user signs in on the identity provider page in headless Chromium and the IDE call completes',
    async () => {
      const lab = await startOAuthLab(cleanups);
      const ws = await workspace(cleanups, { noop: true });
      const b = startBridge(cleanups, [lab.gateway.url], ws);
      const client = sdkClient(cleanups);
      const connecting = client.connect(b.transport());
      connecting.catch(() => undefined);
      const [launch] = await waitUntil('the bridge to launch $BROWSER', () => (launches(ws).length > 0 ? launches(ws) : undefined));

      const profile = await mkdtemp(path.join(tmpdir(), 'kb-chromium-'));
      cleanups.push(() => rm(profile, { recursive: true, force: true }));
      const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
        timeout: 30_000,
      });
      cleanups.push(() => context.close());
      // Everything stays on 127.0.0.1: a request anywhere else fails the test.
      const offBox: string[] = [];
      await context.route(
        (url) => url.hostname !== '127.0.0.1',
        (route) => {
          offBox.push(route.request().url());
          return route.abort();
        },
      );
      const page = context.pages()[0] ?? (await context.newPage());
      page.setDefaultTimeout(15_000);

      await page.goto(launch!.url);
      expect(await page.locator('h1').textContent()).toBe('Sign in');
      await page.fill('#username', 'alice');
      await page.fill('#password', 'wonderland');
      await page.click('#sign-in');
      await page.waitForSelector('#consent-form');
      expect(await page.locator('#requested').textContent()).toContain(lab.gateway.url);
      await page.click('#continue');

      // The CLI's loopback callback page.
      await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback\?/);
      expect(await page.locator('h1').textContent()).toBe('Signed in');
      expect(await page.locator('body').textContent()).toContain('mcp-keybridge received the authorization');
      const callback = new URL(page.url());
      expect(callback.searchParams.get('iss')).toBe(lab.idp.issuer);
      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      await connecting;
      expect(await whoami(client)).toMatchObject({ sub: 'alice', aud: lab.gateway.url });
      expect(launches(ws)).toHaveLength(1);
      expect(offBox).toEqual([]);
      await client.close();
      expect(await b.exited).toBe(0);
      assertStdoutIsJsonRpc(b.stdout());
    },
    90_000,
  );
});
