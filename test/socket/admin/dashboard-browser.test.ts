// The live dashboard in a real browser: headless Chromium from Debian's packages, driven by
// puppeteer-core (no browser download). The page loads under its strict CSP with no console error,
// and its counts, denial list and chart follow the traffic sent through the gateway; with a token
// set, it asks for it, and works once given. A screenshot is written to test-artifacts/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../../src/core/package-root.js';
import { startHarness, viaProxy, type Harness } from '../../support/gateway.js';
import { needs } from '../../support/tools.js';

const CHROMIUM = needs(['chromium'], 'apt-get install chromium');
const ARTIFACTS = join(PACKAGE_ROOT, 'test-artifacts');

let browser: Browser;
beforeAll(async () => {
  if (CHROMIUM.skip) return;
  browser = await launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    // As root in a container there is no user namespace for Chromium's sandbox.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', `--user-data-dir=${join(tmpdir(), `chromium-${process.pid}`)}`],
  });
});
afterAll(async () => {
  await browser?.close();
});

/** A page that records every console error, failed request and uncaught exception. */
async function openPage(): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1600 });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warn') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${(e as Error).message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  return { page, problems };
}

const text = (page: Page, selector: string) => page.$eval(selector, (e) => (e as HTMLElement).innerText);

describe('live dashboard in Chromium', () => {
  let h: Harness;
  beforeAll(async () => {
    if (!CHROMIUM.skip) h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it.skipIf(CHROMIUM.skip)(`shows providers, counts, denials and the chart, following the traffic, with no console error${CHROMIUM.why}`, async () => {
    const { page, problems } = await openPage();
    const admin = `http://127.0.0.1:${h.run.adminAddress!.port}/`;
    const response = await page.goto(admin, { waitUntil: 'load' });
    expect(response!.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.waitForSelector('body[data-refreshed]');
    expect(await text(page, '#providers')).toContain('Okta');

    expect((await viaProxy(h, 'https://graph.microsoft.com/v1.0/users')).status).toBe(200);
    expect((await viaProxy(h, 'https://acme.okta.com/api/v1/users')).status).toBe(200);
    expect((await viaProxy(h, 'https://graph.microsoft.com/v1.0/users/u1/drive')).status).toBe(403);

    await page.waitForFunction(() => document.getElementById('totals')!.textContent!.includes('2 allowed, 1 denied'), { timeout: 10_000 });
    const denials = await text(page, '#denials');
    expect(denials).toContain('PATH_NOT_ALLOWED');
    expect(denials).toContain('GET graph.microsoft.com/v1.0/users/u1/drive');
    // What would allow it, as report --suggest says it.
    expect(denials).toContain('a site endpoint under entra-id');
    expect(await text(page, '#used')).toContain('graph.users.list');
    expect(await text(page, '#providers')).toMatch(/Okta[\s\S]*last allowed call: \d+ s ago/);
    // The chart: a uPlot canvas, whose data holds this minute's counts.
    const drawn = await page.evaluate(() => {
      const canvas = document.querySelector('#chart canvas') as HTMLCanvasElement | null;
      return { canvas: canvas !== null && canvas.width > 0, legend: document.querySelector('#chart .u-legend')?.textContent ?? '' };
    });
    expect(drawn.canvas).toBe(true);
    expect(drawn.legend).toContain('denied');

    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'dashboard.png'), await page.screenshot({ fullPage: true }));
    writeFileSync(join(ARTIFACTS, 'dashboard-top.png'), await page.screenshot());
    expect(problems).toEqual([]);
    await page.close();
  });
});

describe('live dashboard behind its token', () => {
  let h: Harness;
  const token = 'dashboard-token-4f0e9a7c1b2d3e5f';
  beforeAll(async () => {
    if (CHROMIUM.skip) return;
    h = await startHarness({ extra: 'dashboard:\n  tokenFile: dashboard.token\n', files: { 'dashboard.token': `${token}\n` } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it.skipIf(CHROMIUM.skip)(`asks for the token, refuses a wrong one, and works with the right one${CHROMIUM.why}`, async () => {
    const admin = `http://127.0.0.1:${h.run.adminAddress!.port}/`;
    // Without the token, and with a wrong one: 401, with the challenge a browser answers and a
    // body that says which setting holds the token.
    const bare = await fetch(admin);
    expect(bare.status).toBe(401);
    expect(bare.headers.get('www-authenticate')).toContain('Basic realm="idp-egress dashboard"');
    expect(await bare.text()).toContain('dashboard.tokenFile');
    const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` });
    expect((await fetch(admin, { headers: basic('not-the-token-at-all-0000') })).status).toBe(401);
    expect((await fetch(admin, { headers: basic(token) })).status).toBe(200);

    const { page, problems } = await openPage();
    await page.authenticate({ username: 'admin', password: token });
    expect((await page.goto(admin))!.status()).toBe(200);
    await page.waitForSelector('body[data-refreshed]');
    expect(await text(page, '#providers')).toContain('Microsoft Entra ID');
    // The data behind the page needs it too; a script sends it as a Bearer token.
    const state = await fetch(`${admin}dashboard/state.json`);
    expect(state.status).toBe(401);
    expect((await fetch(`${admin}dashboard/state.json`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    // /healthz and /metrics stay open: probes and Prometheus do not carry the token.
    expect((await fetch(`${admin}healthz`)).status).toBe(200);
    expect(problems).toEqual([]);
    await page.close();
  });
});
