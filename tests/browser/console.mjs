// Drives the Quire staff console and the borrower page in headless Debian Chromium, the way
// staff and borrowers use them, and saves a screenshot of every view. Run by the Rust test
// `console::the_console_works_in_a_real_browser`, which starts the daemon, seeds the data and
// passes it in through the environment. Exits non-zero on the first failed check.
//
// Not a test runner: plain assertions, so the only dependency is playwright-core.

import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing environment variable ${k}`);
  return v;
};
const base = env('QUIRE_URL');
const shots = env('QUIRE_SHOTS');
const jobId = env('QUIRE_HELD_JOB');
const requestId = env('QUIRE_REQUEST');
const borrowerPath = env('QUIRE_BORROWER_PATH');
const browserPath = process.env.QUIRE_CHROMIUM || '/usr/bin/chromium';

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

mkdirSync(shots, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), 'quire-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: browserPath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 800 },
  acceptDownloads: true,
});

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/// Nothing may stick out sideways: the page itself never scrolls horizontally.
async function fits(page, what) {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  check(scroll <= width, `${what} fits ${width}px without sideways scrolling (content ${scroll}px)`);
}

async function signIn(page, name, password) {
  await page.goto(`${base}/staff/login`);
  await page.fill('#name', name);
  await page.fill('#password', password);
  await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
}

async function signOut(page) {
  await Promise.all([page.waitForURL('**/staff/login'), page.click('header button[type=submit]')]);
}

try {
  const page = context.pages()[0] ?? await context.newPage();

  // Borrowers: the download page works; staff pages send them to the login form.
  let r = await page.goto(`${base}${borrowerPath}`);
  check(r.status() === 200, 'the borrower page opens (200)');
  await shot(page, '01-borrower-page');
  await page.goto(`${base}/staff/jobs`);
  check(page.url().endsWith('/staff/login'), 'a borrower is sent to the login page, not the queue');
  await shot(page, '02-login');

  // Wrong password, then the right one.
  await signIn(page, 'tina', 'not her password');
  check(await page.locator('.error').innerText().then((t) => t.includes('Wrong name or password')), 'a wrong password is refused');
  await signIn(page, 'tina', 'tina-password-1');
  check(page.url().endsWith('/staff/jobs'), 'a technician lands on the job queue');
  check(await page.locator(`text=${jobId}`).count() > 0, 'the held job is in the queue');
  await fits(page, 'the job queue');
  await shot(page, '03-job-queue');

  await page.goto(`${base}/staff/unmatched`);
  await shot(page, '04-unmatched');

  // Review the held job: findings per page, then release it with a reason.
  await page.goto(`${base}/staff/jobs/${encodeURIComponent(jobId)}`);
  check(await page.locator('h2', { hasText: 'Pages' }).count() === 1, 'the job page lists its pages');
  check(await page.locator('dd.state-held').count() === 1, 'the job shows as held');
  const thumbWidth = await page.locator('td img').first().evaluate(async (img) => {
    if (!img.complete) await new Promise((ok) => { img.onload = ok; img.onerror = ok; });
    return img.naturalWidth;
  });
  check(thumbWidth > 0, `the page thumbnail shows (${thumbWidth}px wide)`);
  await fits(page, 'the job page');
  await shot(page, '05-job-held');
  await page.fill('#reason', 'checked by eye in the browser test');
  await Promise.all([page.waitForURL('**done=*'), page.click('form[action$="/release"] button')]);
  check(await page.locator('.done').innerText().then((t) => t.includes('released')), 'release is confirmed');
  check(await page.locator('dd.state-held').count() === 0, 'the job is no longer held');
  await shot(page, '06-job-released');

  // Requests and links: revoke, and the borrower page turns to 410.
  await page.goto(`${base}/staff/requests`);
  await page.fill('input[name=q]', requestId);
  await Promise.all([page.waitForURL('**q=*'), page.click('form.filters button')]);
  await shot(page, '07-requests');
  await page.click(`a[href="/staff/requests/${requestId}"]`);
  check(await page.locator('[data-link-state="active"]').count() === 1, 'the link is active');
  await fits(page, 'the request page');
  await shot(page, '08-request-links');
  await page.fill('input[name=reason]', 'revoked in the browser test');
  await Promise.all([page.waitForURL('**done=*'), page.click('form[action$="/revoke"] button')]);
  check(await page.locator('[data-link-state="revoked"]').count() === 1, 'the link shows as revoked');
  await shot(page, '09-link-revoked');
  r = await page.goto(`${base}${borrowerPath}`);
  check(r.status() === 410, `the borrower page now answers 410 (got ${r.status()})`);
  await shot(page, '10-borrower-gone');

  // A technician is refused the compliance pages.
  r = await page.goto(`${base}/staff/compliance/audit`);
  check(r.status() === 403, 'a technician gets 403 on the audit log');
  check(await page.locator('nav a', { hasText: 'Audit log' }).count() === 0, 'the technician has no compliance links');
  await shot(page, '11-technician-refused');
  await signOut(page);
  r = await page.goto(`${base}/staff/jobs`);
  check(page.url().endsWith('/staff/login'), 'after signing out the queue needs a login again');

  // A compliance officer: audit log, CSV export, held deliveries, CONTU report.
  await signIn(page, 'carl', 'carl-password-1');
  await page.goto(`${base}/staff/compliance/audit`);
  check(await page.locator('#chain').innerText().then((t) => t.startsWith('Chain verified')), 'the audit chain verifies');
  await fits(page, 'the audit log');
  await shot(page, '12-audit-log');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  const csvPath = join(shots, 'audit-export.csv');
  await download.saveAs(csvPath);
  const csv = readFileSync(csvPath, 'utf8');
  check(csv.startsWith('seq,time,actor,action,subjects,details,prev_hash,hash'), 'the export is the audit CSV');
  check(csv.includes('link.revoked') && csv.includes('job.released'), 'the export holds the actions just taken');
  await page.goto(`${base}/staff/compliance/held`);
  await shot(page, '13-held-deliveries');
  await page.goto(`${base}/staff/compliance/contu`);
  await shot(page, '14-contu-report');

  // The same pages on a tablet held upright.
  await page.setViewportSize({ width: 768, height: 1024 });
  await page.goto(`${base}/staff/compliance/audit`);
  await fits(page, 'the audit log on a tablet');
  await shot(page, '15-audit-tablet');
  await signOut(page);
  await signIn(page, 'tina', 'tina-password-1');
  await fits(page, 'the job queue on a tablet');
  await shot(page, '16-job-queue-tablet');
  await page.goto(`${base}/staff/requests/${requestId}`);
  await fits(page, 'the request page on a tablet');
  await shot(page, '17-request-tablet');
  console.log('all browser checks passed');
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
