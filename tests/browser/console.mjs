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
  const { scroll, width, culprit } = await page.evaluate(() => {
    const width = window.innerWidth;
    // The innermost element sticking out, to name in a failure.
    // Boxes that reach past the edge, and boxes whose own text runs past theirs.
    const out = [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > width + 0.5
      || (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === 'visible' && e.clientWidth > 0));
    const e = out[out.length - 1];
    const culprit = e ? `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className ? '.' + e.className : ''} "${(e.textContent || '').slice(0, 40)}"` : '';
    return { scroll: document.documentElement.scrollWidth, width, culprit };
  });
  check(scroll <= width, `${what} fits ${width}px without sideways scrolling (content ${scroll}px${culprit ? ', widest: ' + culprit : ''})`);
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

  // The barcode field on the queue: a wedge scanner types the id and Enter.
  check(await page.evaluate(() => document.activeElement && document.activeElement.id) === 'scan-request',
    'the barcode field has the focus on the queue');
  await page.keyboard.type('TN4040404');
  await Promise.all([page.waitForURL('**/staff/unmatched**'), page.keyboard.press('Enter')]);
  check(await page.locator('.done').innerText().then((t) => t.includes('no request TN4040404')),
    'an unknown barcode lands on the unmatched queue, saying so');

  // Review the held scan: reasons in plain English, grouped, with the next step.
  await page.goto(`${base}/staff/jobs/${encodeURIComponent(jobId)}`);
  check(await page.locator('h2', { hasText: 'Pages' }).count() === 1, 'the job page lists its pages');
  check(await page.locator('dd.state-held').count() === 1, 'the job shows as held');
  const reasons = await page.locator('dd.reasons').innerText();
  check(reasons.includes('no request matched') && reasons.includes('Next step: match the scan to its request'),
    `the hold reads in plain English with the next step (${reasons.replace(/\n/g, ' | ')})`);
  check(!/quire |--/.test(reasons), 'the hold never tells a person to run a command');
  const thumbWidth = await page.locator('td img').first().evaluate(async (img) => {
    if (!img.complete) await new Promise((ok) => { img.onload = ok; img.onerror = ok; });
    return img.naturalWidth;
  });
  check(thumbWidth > 0, `the page thumbnail shows (${thumbWidth}px wide)`);
  await fits(page, 'the job page');
  await shot(page, '05-job-held');

  // The page viewer: large, zoomable, arrow keys step through the pages.
  await page.click('td a[href$="/pages/1"]');
  const large = await page.locator('#page-image').evaluate(async (img) => {
    if (!img.complete) await new Promise((ok) => { img.onload = ok; img.onerror = ok; });
    return img.naturalWidth;
  });
  check(large >= 1000, `the viewer shows the page large (${large}px wide)`);
  await shot(page, '06-page-viewer');
  await Promise.all([page.waitForURL('**/pages/2'), page.keyboard.press('ArrowRight')]);
  check(page.url().endsWith('/pages/2'), 'the right arrow steps to the next page');
  await Promise.all([page.waitForURL('**/pages/1'), page.keyboard.press('ArrowLeft')]);
  check(page.url().endsWith('/pages/1'), 'the left arrow steps back');
  await page.keyboard.press('z');
  check(await page.locator('#viewer.zoomed').count() === 1, 'Z zooms the page to full size');
  await Promise.all([page.waitForURL(`**/staff/jobs/${jobId}`), page.keyboard.press('Escape')]);
  const pdf = await page.request.get(`${base}/staff/jobs/${encodeURIComponent(jobId)}/pdf`);
  check(pdf.status() === 200 && (await pdf.body()).subarray(0, 5).toString() === '%PDF-',
    'the processed PDF opens from the job page');

  // A typo in the match box: the error beside the field, with similar ids to pick.
  await page.fill('#request', 'TN9211');
  await page.click('form[action$="/match"] button[type=submit]:not(.link)');
  await page.waitForLoadState('load');
  check(await page.locator('#match-error').innerText().then((t) => t.includes('There is no request TN9211')),
    'a typo stays on the job page with an error beside the field');
  check(await page.locator('#match-error button', { hasText: 'TN921' }).count() === 1, 'the similar request id is offered');
  await shot(page, '07-match-typo');
  await Promise.all([page.waitForURL('**done=*'), page.click('#match-error button:text-is("TN921")')]);
  const matched = await page.locator('.done').innerText();
  check(matched.includes('matched to request TN921'), `matching says what happens next (${matched})`);
  if (await page.locator('dd.state-held').count() === 1) {
    check(matched.includes('Next:'), 'a job still held after matching names the next step');
    await page.fill('#reason', 'checked by eye in the browser test');
    await Promise.all([page.waitForURL('**done=*'), page.click('form[action$="/release"] button')]);
    check(await page.locator('.done').innerText().then((t) => t.includes('released')), 'release is confirmed');
  }
  // The daemon delivers it: unmatched to delivered, all in the console.
  let delivered = false;
  for (let i = 0; i < 60 && !delivered; i++) {
    await page.goto(`${base}/staff/jobs/${encodeURIComponent(jobId)}`);
    delivered = await page.locator('dd.state-delivered').count() === 1;
    if (!delivered) await page.waitForTimeout(1000);
  }
  check(delivered, 'the matched scan is delivered');
  await shot(page, '08-job-delivered');

  // The links page: search by request, extend from the list.
  await page.goto(`${base}/staff/links?request=TN921`);
  check(await page.locator('#links [data-link-state="active"]').count() === 1, 'the links page finds the new link by request');
  check(await page.locator('#links input.url').first().inputValue().then((v) => v.includes('/d/')), 'the borrower URL is there to copy');
  await page.fill('#links input[name=days]', '3');
  await Promise.all([page.waitForURL('**/staff/links?done=*'), page.click('#links form[action$="/extend"] button')]);
  check(await page.locator('.done').innerText().then((t) => t.includes('extended')), 'extended from the links page');
  await fits(page, 'the links page');
  await shot(page, '09-links');

  // Requests and links: revoke, and the borrower page turns to 410.
  await page.goto(`${base}/staff/requests`);
  await page.fill('input[name=q]', requestId);
  await Promise.all([page.waitForURL('**q=*'), page.click('form.filters button')]);
  await shot(page, '10-requests');
  await page.click(`a[href="/staff/requests/${requestId}"]`);
  check(await page.locator('[data-link-state="active"]').count() === 1, 'the link is active');
  await fits(page, 'the request page');
  await shot(page, '11-request-links');
  await page.fill('input[name=reason]', 'revoked in the browser test');
  await Promise.all([page.waitForURL('**done=*'), page.click('form[action$="/revoke"] button')]);
  check(await page.locator('[data-link-state="revoked"]').count() === 1, 'the link shows as revoked');
  await shot(page, '12-link-revoked');
  r = await page.goto(`${base}${borrowerPath}`);
  check(r.status() === 410, `the borrower page now answers 410 (got ${r.status()})`);
  await shot(page, '13-borrower-gone');

  // A technician is refused the compliance pages.
  r = await page.goto(`${base}/staff/compliance/audit`);
  check(r.status() === 403, 'a technician gets 403 on the audit log');
  check(await page.locator('nav a', { hasText: 'Audit log' }).count() === 0, 'the technician has no compliance links');
  await shot(page, '14-technician-refused');
  await signOut(page);
  r = await page.goto(`${base}/staff/jobs`);
  check(page.url().endsWith('/staff/login'), 'after signing out the queue needs a login again');

  // A compliance officer: audit log, CSV export, held deliveries, CONTU report.
  await signIn(page, 'carl', 'carl-password-1');
  await page.goto(`${base}/staff/compliance/audit`);
  check(await page.locator('#chain').innerText().then((t) => t.startsWith('Chain verified')), 'the audit chain verifies');
  const sentences = await page.locator('#events .sentence').allInnerTexts();
  check(sentences.some((t) => /^tina released job \S+ for request TN921 — reason: checked by eye/.test(t))
    || sentences.some((t) => /^tina matched job \S+ to request TN921/.test(t)),
    'the audit page reads as sentences ("tina matched job … to request TN921")');
  check(await page.locator('#events a[href^="/staff/requests/TN921"]').count() > 0, 'the sentences link to what they name');
  const body = await page.locator('main').innerText();
  check(!/[A-Z][a-z]+\(\"/.test(body) && !body.includes('Some('), 'no Rust debug text on the audit page');
  await page.locator('#events details summary').first().click();
  check(await page.locator('#events details[open] pre').count() === 1, 'the raw event is behind a disclosure');
  await fits(page, 'the audit log');
  await shot(page, '15-audit-log');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  const csvPath = join(shots, 'audit-export.csv');
  await download.saveAs(csvPath);
  const csv = readFileSync(csvPath, 'utf8');
  check(csv.startsWith('seq,time,actor,action,subjects,details,prev_hash,hash'), 'the export is the audit CSV');
  check(csv.includes('link.revoked') && csv.includes('job.matched'), 'the export holds the actions just taken');
  await page.goto(`${base}/staff/compliance/held`);
  await shot(page, '16-held-deliveries');
  await page.goto(`${base}/staff/compliance/contu`);
  await shot(page, '17-contu-report');

  // The same pages on a tablet held upright.
  await page.setViewportSize({ width: 768, height: 1024 });
  await page.goto(`${base}/staff/compliance/audit`);
  await fits(page, 'the audit log on a tablet');
  await shot(page, '18-audit-tablet');
  await signOut(page);
  await signIn(page, 'tina', 'tina-password-1');
  await fits(page, 'the job queue on a tablet');
  const idWidth = await page.locator('#queue td.id a').first().evaluate((a) => a.getBoundingClientRect().width);
  check(idWidth > 40, `job ids do not break one character per line at 768px (${idWidth}px wide)`);
  check(await page.locator('#queue thead').evaluate((t) => getComputedStyle(t).display) === 'none',
    'the queue collapses to cards at 768px');
  await shot(page, '19-job-queue-tablet');
  await page.goto(`${base}/staff/links`);
  await fits(page, 'the links page on a tablet');
  await shot(page, '20-links-tablet');
  await page.goto(`${base}/staff/requests/${requestId}`);
  await fits(page, 'the request page on a tablet');
  await shot(page, '21-request-tablet');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/staff/jobs/${encodeURIComponent(jobId)}`);
  await fits(page, 'the job page on a phone');
  await shot(page, '22-job-phone');

  // The e-mail the borrower got, as a mail reader shows its HTML part.
  const mail = process.env.QUIRE_MAIL_HTML;
  if (mail) {
    await page.setViewportSize({ width: 800, height: 900 });
    await page.goto('file://' + mail);
    const text = await page.locator('body').innerText();
    check(text.includes('Dear ') && text.includes('downloads') && !text.includes('download(s)'),
      'the e-mail HTML renders, greeting the reader');
    check(await page.locator('a[href*="/d/"]').count() === 1, 'the e-mail link is a link');
    await shot(page, '23-email-html');
  }
  console.log('all browser checks passed');
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
