import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { launchBrowser, NO_CHROMIUM, seriousViolations } from './browser.js';
import { type ConsoleFixture, startFixture } from './fixture.js';

// Screenshots for docs/ are written only when asked: SWARM_CONSOLE_SCREENSHOTS=<folder>.
const SHOTS = process.env.SWARM_CONSOLE_SCREENSHOTS;
const shot = async (page: Page, name: string) => {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/console-${name}.png`, fullPage: true });
};

describe('swarm console in headless Chromium', { skip: NO_CHROMIUM }, () => {
  let fx: ConsoleFixture;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const tamper = { on: false };
  const appHash = () => `#/app/${encodeURIComponent(fx.appId)}`;
  const open = async (hash: string, heading: RegExp) => {
    await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  };
  const axeClean = async (name: string) => assert.deepEqual(await seriousViolations(page), [], `axe on ${name}`);

  before(async () => {
    fx = await startFixture((source) => ({
      ...source,
      // A registry that rewrote history: the second entry's event changed after it was sealed.
      audit: async (appId) => {
        const entries = await source.audit(appId);
        return tamper.on ? entries.map((e) => (e.seq === 2 ? { ...e, event: 'rewritten' } : e)) : entries;
      },
    }));
    browser = await launchBrowser();
    page = browser.page;
  });
  after(async () => {
    await browser?.close();
    await fx?.close();
  });

  it('logs in with the one-time URL and shows the namespace', async () => {
    await page.goto(fx.console.loginUrl);
    assert.equal(new URL(page.url()).pathname, '/');
    assert.equal(new URL(page.url()).search, '', 'the token leaves the address bar');
    await page.getByRole('heading', { name: 'Namespace owner' }).waitFor();
    await page.getByRole('link', { name: fx.appId }).waitFor();
    assert.match((await page.locator('dl.facts').textContent()) ?? '', /Last key change\s*never/);
    await axeClean('namespace');
    await shot(page, 'namespace');
  });

  it('shows the app with its three instances and its operational context', async () => {
    await page.getByRole('link', { name: 'Instances' }).click();
    await page.getByRole('heading', { level: 1, name: /Shop/ }).waitFor();
    await page.locator('table.instances tbody tr').nth(2).waitFor();
    assert.equal(await page.locator('table.instances tbody tr').count(), 3);
    const types = await page.locator('table.instances tbody tr td:nth-child(2)').allTextContents();
    assert.deepEqual(types.sort(), ['cms-article', 'crm-contact', 'storage-blob']);
    assert.match((await page.locator('dl.facts').textContent()) ?? '', new RegExp(fx.swarm.urls.billing.replace(/[.]/g, '\\.')));
    await page.getByRole('heading', { name: 'Registry broadcasts' }).waitFor();
    assert.match((await page.locator('main').textContent()) ?? '', /\d+ pending, \d+ failed/);
    await axeClean('instances');
  });

  it('provisions from the catalog after a confirmation and shows the instance without reloading', async () => {
    await page.evaluate('window.notReloaded = true');
    await open('#/catalog', /Catalog/);
    await axeClean('catalog');
    await shot(page, 'catalog');
    const form = page.getByRole('form', { name: 'Provision cms-article from article.cms.local' });
    await form.getByLabel('Tier').selectOption('free');
    await form.getByRole('button', { name: 'Provision…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Provision cms-article?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Provision', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: /Shop/ }).waitFor();
    await page.locator('table.instances tbody tr').nth(3).waitFor({ timeout: 30_000 });
    await page.locator('li.op.done[data-operation="provision"]').waitFor({ timeout: 30_000 });
    assert.equal(await page.evaluate('window.notReloaded'), true);
    await shot(page, 'instances');
  });

  it('shows a failed action with its SPEC error code and a hint', async () => {
    await open('#/catalog', /Catalog/);
    const form = page.getByRole('form', { name: 'Provision storage-blob from blob.storage.local' });
    await form.getByLabel('Tier').selectOption('free');
    await form.getByLabel('Storage GB').fill('999');
    await form.getByRole('button', { name: 'Provision…' }).click();
    await page.getByRole('dialog', { name: 'Provision storage-blob?' }).getByRole('button', { name: 'Provision', exact: true }).click();
    const failed = page.locator('li.op.failed[data-operation="provision"]');
    await failed.waitFor({ timeout: 30_000 });
    assert.match((await failed.textContent()) ?? '', /storage_limit_exceeded.*hint: ask for less storage/s);
    assert.equal(await page.locator('table.instances tbody tr').count(), 4, 'nothing was added');
  });

  it('shows usage in a chart after traffic', async () => {
    const records = await fetch(`${fx.client.registry}/v1/apps/${encodeURIComponent(fx.appId)}/services`).then(
      (r) => r.json() as Promise<{ records: Array<{ service_type: string; endpoint_url: string }> }>,
    );
    const cms = records.records.find((r) => r.service_type === 'cms-article');
    assert.ok(cms);
    await fx.traffic(cms.endpoint_url);
    await open(`${appHash()}/usage`, /Usage/);
    await page.locator('.chart canvas').waitFor();
    await page.locator('table.usage td', { hasText: 'requests' }).first().waitFor();
    await axeClean('usage');
    await shot(page, 'usage');
  });

  it('filters the logs by level and text', async () => {
    await open(`${appHash()}/logs`, /Logs/);
    await page.locator('table.logs tbody tr').first().waitFor();
    const filters = page.getByRole('form', { name: 'Log filters' });
    await filters.getByLabel('Level').selectOption('error');
    await filters.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('0 entries').waitFor();
    await filters.getByLabel('Level').selectOption('warn');
    await filters.getByLabel('Text').fill('invalid_token');
    await filters.getByRole('button', { name: 'Filter' }).click();
    await page.locator('table.logs tbody tr', { hasText: 'refused: invalid_token' }).first().waitFor();
    await axeClean('logs');
    await shot(page, 'logs');
  });

  it('shows the audit log as a timeline with its chain verified, and a broken chain as broken', async () => {
    await open(`${appHash()}/audit`, /Audit log/);
    await page.getByText(/Hash chain verified/).waitFor();
    await page.locator('.timeline summary').first().click();
    await page.locator('.timeline details[open] pre').waitFor();
    await axeClean('audit');
    await shot(page, 'audit');
    tamper.on = true;
    await open('#/', /Namespace/);
    await open(`${appHash()}/audit`, /Audit log/);
    await page.getByText(/Hash chain BROKEN at seq 2/).waitFor();
    assert.equal(await page.locator('.badge.broken').count(), 1);
    tamper.on = false;
  });

  it('decommissions an instance after a confirmation and shows its receipt', async () => {
    await open(appHash(), /Shop/);
    await page.locator('table.instances tbody tr').nth(3).waitFor();
    const button = page.getByRole('button', { name: /^Decommission crm-contact-/ });
    await button.click();
    const dialog = page.getByRole('dialog', { name: /^Decommission crm-contact-/ });
    await dialog.getByRole('button', { name: 'Decommission', exact: true }).click();
    await page.locator('li.op.done[data-operation="decommission"]').waitFor({ timeout: 30_000 });
    await page.getByText('Termination receipt').click();
    assert.match((await page.locator('pre.receipt').textContent()) ?? '', /crm-contact-/);
    // Polled from here: a predicate evaluated in the page would be eval, which the console's CSP refuses.
    const rows = page.locator('table.instances tbody tr');
    for (let i = 0; i < 150 && (await rows.count()) !== 3; i++) await page.waitForTimeout(100);
    assert.equal(await rows.count(), 3);
  });

  it('refuses the console under another host name and a POST from another origin', async () => {
    const port = new URL(fx.console.url).port;
    const other = await page.context().newPage();
    const refused = await other.goto(`http://localhost:${port}/`);
    assert.equal(refused?.status(), 403);
    // A page of another origin posts to the console with the browser's credentials.
    const evil: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>elsewhere</title>');
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    const evilPort = (evil.address() as { port: number }).port;
    try {
      await other.goto(`http://127.0.0.1:${evilPort}/`);
      const operations = `(async () => (await (await fetch('/api/apps/${encodeURIComponent(fx.appId)}')).json()).operations.length)()`;
      const before = await page.evaluate(operations);
      await other.evaluate(
        async ([url, body]) => {
          await fetch(url as string, {
            method: 'POST',
            mode: 'no-cors',
            credentials: 'include',
            headers: { 'content-type': 'text/plain' },
            body: body as string,
          }).catch(() => {});
        },
        [
          `${fx.console.url}/api/apps/${encodeURIComponent(fx.appId)}/provision`,
          JSON.stringify({ service_type: 'cms-article', provider: 'article.cms.local', tier: 'free', region: 'local' }),
        ],
      );
      const afterCount = await page.evaluate(operations);
      assert.equal(afterCount, before, 'nothing was signed');
    } finally {
      await other.close();
      evil.closeAllConnections();
      await new Promise((resolve) => evil.close(resolve));
    }
  });

  it('is usable at phone width', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    await open(appHash(), /Shop/);
    // With the elements reaching past the right edge (outside scrolling boxes), to say what to fix.
    const overflow = (await page.evaluate(`({
      by: document.documentElement.scrollWidth - window.innerWidth,
      wide: [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1 && !el.parentElement?.closest('.scroll, pre'))
        .slice(0, 5)
        .map((el) => el.tagName.toLowerCase() + '.' + el.className),
    })`)) as { by: number; wide: string[] };
    assert.ok(overflow.by <= 1, `the page scrolls sideways by ${overflow.by}px: ${overflow.wide.join(', ')}`);
    await axeClean('instances at phone width');
    await shot(page, 'phone');
  });
});
