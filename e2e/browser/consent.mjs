// Drives the authorization server's production consent page in headless
// Chromium, as a customer would: open the partner's authorization URL, type
// the customer number, follow the link to txauth's confirmation page (a new
// tab), confirm with the passkey (the DevTools Protocol's virtual
// authenticator), come back, press Approve and land on the partner's
// redirect URI. Used by cmd/madoguchi/e2e_consent_browser_test.go.
//
// Options (one JSON argument): register (txauth's passkey registration
// URL for the customer), customer (the customer number), redirect (the
// partner's redirect URI: the host does not exist, the script reads
// the URL the browser is sent to), cases
// ([{name, url, transfer}]: authorization URLs), shots, chromium.
//
// Output: one JSON line per event: {"event":"check","name":…} for each
// assertion that held; {"event":"value","name":…,"value":…} for what the
// test judges: <case>.code, <case>.iss, <case>.state, and for a transfer
// consent.<field> and confirm.<field> (amount, payee, account, purpose) as
// each page shows them; {"event":"axe",…}; {"event":"screenshot",…};
// {"event":"done"}. Exit status 1 (with the reason on stderr) on the first
// failed assertion.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Failure, axeChecker, checker, launch } from './portal-lib.mjs';

const opt = JSON.parse(process.argv[2] || '{}');
for (const k of ['register', 'customer', 'redirect', 'cases', 'shots']) {
  if (!opt[k]) {
    console.error(`consent.mjs: missing option ${k}`);
    process.exit(2);
  }
}
mkdirSync(opt.shots, { recursive: true });
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const check = checker(emit);
const axe = axeChecker(emit, check);
const value = (name, v) => emit({ event: 'value', name, value: String(v) });

const browser = await launch(opt);
let status = 1;
const problems = [];
try {
  // The consent page is served over TLS by the test's CA, which this
  // browser does not know; txauth's pages are on http://localhost (a
  // secure context, and a host name for the passkey's RP ID).
  const context = await browser.newContext({ viewport: { width: 390, height: 900 }, isMobile: true, hasTouch: true,
    locale: 'ja-JP', ignoreHTTPSErrors: true });
  context.setDefaultTimeout(20000);
  const redirect = new URL(opt.redirect);
  const watch = (page) => {
    page.on('console', (m) => {
      const t = m.text();
      if (m.type() === 'error' && !/status of 4\d\d/.test(t)) problems.push(`console: ${t}`);
      if (/Content Security Policy/i.test(t)) problems.push(`CSP violation: ${t}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  };
  context.on('page', watch);
  let n = 0;
  const shot = async (page, name) => {
    const file = join(opt.shots, `consent-${String(++n).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    emit({ event: 'screenshot', file });
  };
  // wide takes the same screenshot at a desktop width (the context is a
  // phone's).
  const wide = async (page, name) => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await shot(page, `${name}-desktop`);
    await page.setViewportSize({ width: 390, height: 900 });
  };

  // styled checks that the consent page wears the customer pages' style
  // sheet: its CSP allows styles from this origin and nothing else, the
  // one sheet linked loaded, and its rules apply (layout, the approve
  // button's colour, a focus outline, the amount set apart).
  const styled = async (page, resp, name) => {
    const csp = resp.headers()['content-security-policy'] || '';
    const styleSrc = csp.split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0] === 'style-src').map((d) => d.slice(1).join(' '));
    check(`${name}: CSP allows the style sheet only`, /^default-src 'none';/.test(csp) && styleSrc.length === 1 && styleSrc[0] === "'self'", csp);
    const got = await page.evaluate(() => {
      const css = (sel) => { const e = document.querySelector(sel); return e ? getComputedStyle(e) : null; };
      const input = document.querySelector('input[name="customer"]');
      input.focus();
      const focused = getComputedStyle(input);
      const outline = `${focused.outlineStyle} ${focused.outlineWidth}`;
      input.blur();
      const amount = css('dd[data-field="amount"]'), dt = css('.tx dt');
      return {
        sheets: [...document.styleSheets].map((s) => ({ href: s.href, rules: s.cssRules.length })),
        main: css('main').maxWidth, approve: css('#approve').backgroundColor, outline,
        amount: amount && { size: parseFloat(amount.fontSize), weight: Number(amount.fontWeight), dt: parseFloat(dt.fontSize) },
      };
    });
    check(`${name}: style sheet applied`, got.sheets.length === 1 && got.sheets[0].href === new URL('/oauth/page.css', page.url()).href &&
      got.sheets[0].rules > 20 && got.main === '560px' && got.approve === 'rgb(26, 79, 191)' && got.outline === 'solid 3px' &&
      (!got.amount || (got.amount.size >= 1.4 * got.amount.dt && got.amount.weight >= 600)), JSON.stringify(got));
  };

  // The customer's phone has one platform authenticator; Chromium scopes a
  // virtual one to a tab, so each tab gets one holding the same credential
  // (with its signature counter carried over).
  let credentials = [];
  const authenticator = async (page) => {
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true } });
    for (const credential of credentials) await cdp.send('WebAuthn.addCredential', { authenticatorId, credential });
    return async () => { credentials = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials; };
  };
  // passkey completes txauth's confirmation page in page.
  const passkey = async (page, name) => {
    const keep = await authenticator(page);
    await page.waitForFunction(() => ['confirm', 'done', 'error'].includes(document.body.dataset.screen));
    check(`${name}: passkey due`, (await page.evaluate(() => document.body.dataset.passkey)) === 'due');
    await shot(page, `${name}-confirm`);
    await page.click('#btn-passkey');
    await page.waitForSelector('body[data-screen="done"], #passkey-error:not([hidden])', { state: 'attached' });
    await shot(page, `${name}-confirmed`);
    check(`${name}: confirmed`, (await page.evaluate(() => document.body.dataset.state)) === 'confirmed',
      await page.evaluate(() => document.body.dataset.state || document.getElementById('passkey-error').textContent));
    await keep();
  };

  // 1. The customer registers the passkey (the bank sent the link).
  const home = await context.newPage();
  await home.goto(opt.register);
  await passkey(home, 'register');
  check('passkey registered', credentials.length === 1, `${credentials.length} credentials`);

  for (const c of opt.cases) {
    const page = await context.newPage();
    // 2. The partner sends the customer to the authorization URL.
    const resp = await page.goto(c.url);
    const field = page.locator('input[name="customer"]');
    check(`${c.name}: consent page asks for the customer number`, (await field.count()) === 1 && (await page.locator('#customer-step').count()) === 0);
    await styled(page, resp, c.name);
    await shot(page, `${c.name}-consent`);
    await wide(page, `${c.name}-consent`);
    await axe(page, `consent ${c.name}`);
    const consentField = async (f) => ((await page.locator(`section.detail dd[data-field="${f}"]`).textContent()) || '').trim();
    const consent = c.transfer ? Object.fromEntries(await Promise.all(['amount', 'payee', 'account', 'purpose'].map(async (f) => [f, await consentField(f)]))) : {};

    // 3. The customer number, then the link to the confirmation page.
    await field.fill(opt.customer);
    await Promise.all([page.waitForNavigation(), page.click('#approve')]);
    const link = page.locator('#customer-step');
    check(`${c.name}: link to the confirmation page`, (await link.count()) === 1 && (await link.getAttribute('target')) === '_blank' &&
      (await page.locator('[role="alert"]').count()) === 0);
    await shot(page, `${c.name}-link`);
    await wide(page, `${c.name}-link`);
    const [tab] = await Promise.all([context.waitForEvent('page'), link.click()]);
    await tab.waitForLoadState();
    check(`${c.name}: token not in the address bar`, new URL(tab.url()).hash === '', tab.url().replace(/#.*/, '#…'));

    if (c.transfer) {
      // Dynamic linking the customer can see: both pages name the same
      // transfer. The test compares each page's reading with what the
      // partner pushed.
      await tab.waitForFunction(() => document.body.dataset.screen === 'confirm');
      value('consent.amount', consent.amount.replace(/[^0-9]/g, ''));
      value('consent.payee', consent.payee);
      value('consent.account', (consent.account.match(/(\d+)$/) || [])[1] || '');
      value('consent.purpose', consent.purpose);
      const dd = async (f) => ((await tab.locator(`dd[data-field="${f}"]`).textContent()) || '').trim();
      value('confirm.amount', (await dd('tx.amount')).replace(/[^0-9]/g, ''));
      value('confirm.payee', await dd('tx.name'));
      value('confirm.account', ((await dd('tx.account')).match(/(\d+)$/) || [])[1] || '');
      value('confirm.purpose', await dd('tx.purpose'));
    }
    await passkey(tab, c.name);
    await tab.close();

    // 4. Back on the consent page: Approve lands on the partner.
    const [landed] = await Promise.all([page.waitForRequest((r) => r.isNavigationRequest() && r.url().startsWith(redirect.origin)),
      page.click('#approve')]);
    const back = new URL(landed.url());
    check(`${c.name}: redirected to the partner`, back.origin + back.pathname === opt.redirect && back.searchParams.has('code'), landed.url());
    for (const k of ['code', 'iss', 'state']) value(`${c.name}.${k}`, back.searchParams.get(k) || '');
    await page.close();
  }
  check('no console errors or CSP violations', problems.length === 0, problems.join('; '));
  emit({ event: 'done' });
  status = 0;
} catch (e) {
  console.error(e instanceof Failure ? e.message : String(e && e.stack || e));
} finally {
  await browser.close();
}
process.exit(status);
