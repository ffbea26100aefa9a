// The feed's web pages in a real browser (issue 15), driven by `tests/tests/browser_e2e.rs`,
// which starts a feed server, pushes the packages this script expects and runs it:
//
//   node tests/browser/pages.mjs
//
// Environment: FEED_BASE (the feed's path base URL, without a trailing slash), SCREENSHOTS (a
// folder for the PNGs), CHROMIUM (the browser), PLAYWRIGHT_CORE and AXE_CORE (the unpacked npm
// packages, as .ci/install-deps.sh leaves them). Headless Debian chromium, without its sandbox
// when run as root (a container's root cannot make the sandbox's namespaces).
//
// On every page: axe-core finds no serious or critical violation, the console shows no error
// (a Content-Security-Policy refusal is one), and no request the page makes fails. Each step
// prints one line; the first failed check throws, and the exit status is 1.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (see the comment at the top of this script)`);
  return value;
};
const base = env('FEED_BASE');
const screenshots = env('SCREENSHOTS');
const { chromium } = await import(pathToFileURL(join(env('PLAYWRIGHT_CORE'), 'index.mjs')).href);
const axeSource = readFileSync(join(env('AXE_CORE'), 'axe.min.js'), 'utf8');

const browser = await chromium.launch({
  executablePath: env('CHROMIUM'),
  headless: true,
  args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
});
const origin = new URL(base).origin;
const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
const page = await context.newPage();

// What went wrong on the current page: console errors (CSP refusals among them), script
// errors, failed requests and error answers to the page's own requests.
let problems = [];
page.on('console', (m) => {
  // The browser asks the origin for /favicon.ico on its own; the feed lives under a path base
  // and does not own the origin's root.
  const at = m.location()?.url ?? '';
  if (m.type() === 'error' && !at.endsWith('/favicon.ico')) {
    problems.push(`console error: ${m.text()} (${at})`);
  }
});
page.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
page.on('response', (r) => {
  if (r.status() >= 400 && r.request().resourceType() !== 'document') {
    problems.push(`HTTP ${r.status()}: ${r.url()}`);
  }
});

const step = (text) => console.log(`browser: ${text}`);
const text = async (selector) => (await page.locator(selector).first().textContent()).trim();

// The checks every page gets, then a full-page screenshot named `name`.
async function checkPage(name) {
  await page.waitForLoadState('load');
  assert.equal(await page.getAttribute('html', 'lang'), 'en', `${name}: <html lang>`);
  for (const landmark of ['header', 'nav', 'main#main', 'footer']) {
    assert.ok(await page.locator(landmark).count() >= 1, `${name}: no <${landmark}>`);
  }
  assert.equal(await page.locator('a[href="#main"]').count(), 1, `${name}: no skip link to #main`);
  // Evaluated through the DevTools protocol, as a debugger would: the page's CSP, which
  // allows no inline script, does not apply to it.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await globalThis.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5),
    }));
  });
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of violations) step(`${name}: axe ${v.impact} ${v.id}: ${v.help} (${v.nodes.join(', ')})`);
  assert.deepEqual(serious, [], `${name}: serious or critical accessibility violations`);
  // Dark mode is the system's setting: check it too.
  await page.emulateMedia({ colorScheme: 'dark' });
  const darkViolations = await page.evaluate(async () => {
    const result = await globalThis.axe.run(document, { runOnly: ['color-contrast'] });
    return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  await page.screenshot({ path: join(screenshots, `${name}-dark.png`), fullPage: true });
  await page.emulateMedia({ colorScheme: 'light' });
  assert.deepEqual(darkViolations, [], `${name}: contrast in dark mode`);
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
  assert.deepEqual(problems, [], `${name}: the page's console and requests`);
  problems = [];
  step(`${name}: ok (${violations.length} minor axe findings), ${join(screenshots, `${name}.png`)}`);
}

// Clicks the copy button of snippet `kind` and reads the clipboard back: the snippet's text.
async function copySnippet(kind) {
  const button = page.locator(`button.copy[data-copy="snippet-${kind}"]`);
  await button.click();
  await page.waitForFunction(
    (k) => document.querySelector(`button.copy[data-copy="snippet-${k}"]`)?.textContent.trim() === 'Copied',
    kind,
  );
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  const shown = await page.locator(`#snippet-${kind} pre code`).textContent();
  assert.equal(copied, shown, `the clipboard holds snippet ${kind} as shown`);
  return copied;
}

try {
  // The feed page, from the path base without its slash (redirected).
  const response = await page.goto(base);
  assert.equal(response.status(), 200);
  assert.equal(page.url(), `${base}/`, 'the path base redirects to the feed page');
  assert.ok(await page.locator('#results li.result').count() >= 2, 'the feed page lists the packages');
  await checkPage('feed');

  // Search as a person types it.
  await page.fill('#q', 'widgets');
  await page.click('form[role="search"] button[type="submit"]');
  await page.waitForURL(/[?&]q=widgets/);
  assert.deepEqual(await page.locator('#results a.result-id').allTextContents(), ['Contoso.Widgets']);
  assert.equal(await text('#results .result-version'), '2.0.0', 'the latest stable version');
  assert.match(await text('#result-count'), /\b1\b/);
  await checkPage('search');

  // With prereleases the latest version is the prerelease.
  await page.check('#prerelease');
  await page.click('form[role="search"] button[type="submit"]');
  await page.waitForURL(/prerelease=true/);
  assert.equal(await text('#results .result-version'), '2.1.0-beta.1');
  assert.ok(await page.isChecked('#prerelease'), 'the toggle stays on');
  await page.uncheck('#prerelease');
  await page.click('form[role="search"] button[type="submit"]');
  await page.waitForURL((u) => !u.search.includes('prerelease=true'));

  // Open the package from the results: its README and versions.
  await page.click('#results a.result-id');
  await page.waitForURL(/\/packages\/contoso\.widgets\/2\.0\.0$/i);
  assert.match(await text('#package-title'), /Contoso\.Widgets/);
  assert.equal(await text('#package-title .version'), '2.0.0');
  const heading = page.locator(':is(h1, h2, h3, h4)', { hasText: 'Widgets for everyone' });
  assert.equal(await page.locator('#readme').locator(heading).count(), 1, "the README's heading");
  assert.equal(await text('#readme strong'), 'widgets');
  assert.equal(await page.locator('#readme li').count(), 2, 'the README list is rendered');
  assert.equal(await page.locator('#readme script').count(), 0);
  const versions = await page.locator('#versions a').allTextContents();
  for (const v of ['1.0.0', '1.1.0', '2.0.0', '2.1.0-beta.1']) {
    assert.ok(versions.includes(v), `version ${v} in the table: ${versions}`);
  }
  assert.equal(await text('#versions [aria-current="page"]'), '2.0.0');
  await checkPage('package');

  // Switch versions.
  await page.click('#versions a:text-is("1.1.0")');
  await page.waitForURL(/\/1\.1\.0$/);
  assert.equal(await text('#package-title .version'), '1.1.0');
  assert.equal(await text('#versions [aria-current="page"]'), '1.1.0');

  // Copy the install line.
  const copied = await copySnippet('dotnet-cli');
  assert.equal(copied.trim(), 'dotnet add package Contoso.Widgets --version 1.1.0');
  step(`copied: ${copied.trim()}`);
  await checkPage('package-version');

  // Follow a dependency to its page on this feed.
  await page.click('#dependencies a:text-is("Contoso.Core")');
  await page.waitForURL(/\/packages\/contoso\.core/i);
  assert.match(await text('#package-title'), /Contoso\.Core/);
  await checkPage('dependency');

  // How to use the feed.
  await page.click('a[href$="/setup"]');
  await page.waitForURL(/\/setup$/);
  assert.equal(await text('#source-url'), `${base}/index.json`);
  const config = await copySnippet('nuget-config');
  assert.ok(config.includes(`${base}/index.json`), `nuget.config names the feed: ${config}`);
  await checkPage('setup');

  // An unknown package: the HTML 404 page.
  const missing = await page.goto(`${base}/packages/No.Such.Package`);
  assert.equal(missing.status(), 404);
  // Chromium logs the document's own 404 as a console error: that one is expected.
  problems = problems.filter((p) => !p.includes('status of 404'));
  await checkPage('not-found');
  step('all pages passed');
} catch (e) {
  await page.screenshot({ path: join(screenshots, 'failure.png'), fullPage: true }).catch(() => {});
  console.error(`browser: FAILED at ${page.url()}: ${e.stack ?? e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
