// The live dashboard in a real browser: headless Chromium from Debian's packages, driven by
// puppeteer-core (no browser download). The page loads under its strict CSP with no console error,
// and its counts, denial list and chart follow the traffic sent through the gateway; with a token
// set, it asks for it, and works once given. A screenshot is written to test-artifacts/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSiteConfig } from '../../../src/config/load.js';
import { siteConfigSchema } from '../../../src/config/schema.js';
import { PACKAGE_ROOT } from '../../../src/core/package-root.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import { loadPacks } from '../../../src/policy/pack.js';
import { renderReport } from '../../../src/report/render.js';
import { UsageAggregator } from '../../../src/report/usage-report.js';
import { startHarness, viaProxy, type Harness } from '../../support/gateway.js';
import { BOUND_SITE } from '../../support/policy.js';
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
    expect(denials).toContain('GET graph.microsoft.com/v1.0/users/{userid}/drive');
    // What would allow it, as report --suggest says it.
    expect(denials).toContain('a site endpoint under entra-id');
    expect(await text(page, '#used')).toContain('graph.users.list');
    expect(await text(page, '#gateway')).toMatch(/client connections\s*\d+ held, at most \d+/);
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

describe('the HTML usage report in Chromium', () => {
  it.skipIf(CHROMIUM.skip)(`draws its chart, a single hour as points, with no console error${CHROMIUM.why}`, async () => {
    const packs = loadPacks();
    const config = parseSiteConfig('site.yaml', BOUND_SITE);
    const aggregator = new UsageAggregator(compilePolicy(packs, config), compilePolicy(packs, siteConfigSchema.parse({})), {}, { packs, config });
    const time = '2026-12-01T08:10:00.000Z';
    aggregator.add({ time, event: 'request', client: '10.20.0.15', decision: 'allow', code: 'ALLOWED', provider: 'entra-id', endpoint: 'graph.users.list', method: 'GET', status: 200, url: 'https://graph.microsoft.com/v1.0/users' });
    aggregator.add({ time, event: 'request', client: '10.20.0.15', decision: 'deny', code: 'PATH_NOT_ALLOWED', provider: 'entra-id', method: 'GET', status: 403, url: 'https://graph.microsoft.com/v1.0/users/u1/drive' });
    const html = renderReport(aggregator.report(), 'html');
    const { page, problems } = await openPage();
    await page.setContent(html, { waitUntil: 'load' });
    const drawn = await page.evaluate(() => {
      const canvas = document.querySelector('#chart canvas') as HTMLCanvasElement;
      const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let inked = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) inked++;
      return { inked, legend: document.querySelector('#chart .u-legend')!.textContent };
    });
    // Axes, ticks, grid and two points: well past an empty canvas.
    expect(drawn.inked).toBeGreaterThan(1000);
    expect(drawn.legend).toMatch(/allowed[\s\S]*denied[\s\S]*would deny[\s\S]*failed upstream/);
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'report.png'), await page.screenshot({ fullPage: true }));
    expect(problems).toEqual([]);
    await page.close();
  });
});
