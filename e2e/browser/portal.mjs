// Drives Madoguchi's staff portal in headless Chromium, as staff would: a
// keyboard-only sign-in with password and TOTP, the failure message for a
// real and an unknown account, cookie flags, a passkey registered and used
// with the Chrome DevTools Protocol's virtual authenticator, re-authentication,
// a forged CSRF token refused, another tenant's objects answering 404, the
// idle timeout, both languages, and an axe-core accessibility check of every
// page (no serious or critical violation). Used by
// cmd/madoguchi/e2e_portal_test.go.
//
// Options (one JSON argument): url (the portal server's base URL, on
// localhost), idleURL (a second server whose idle timeout is idleMs), shots
// (directory for screenshots), accounts {reviewer, admin, other, idle}: each
// {username, password, secret (base32 TOTP)}, crossTenant ([{method, path}]
// with {id} for the object), chromium.
//
// Output: one JSON line per event on stdout: {"event":"check","name":…} for
// each assertion that held, {"event":"axe",…}, {"event":"screenshot",…},
// {"event":"done"}. Exit status 1 (with the reason on stderr) on the first
// failed assertion.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Failure, checker, launch, totp, pageKit } from './portal-lib.mjs';

const opt = JSON.parse(process.argv[2] || '{}');
for (const k of ['url', 'idleURL', 'idleMs', 'shots', 'accounts']) {
  if (!opt[k]) {
    console.error(`portal.mjs: missing option ${k}`);
    process.exit(2);
  }
}
mkdirSync(opt.shots, { recursive: true });
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const check = checker(emit);

const browser = await launch(opt);
let status = 1;
const problems = [];
try {
  const { newPage, shot, axe, submit, signIn } = pageKit({ browser, opt, emit, check, problems, prefix: 'portal' });
  const text = async (page, sel) => ((await page.locator(sel).textContent()) || '').trim();
  const signOut = async (page) => {
    await submit(page, '#signout');
    check('signed out', new URL(page.url()).pathname === '/portal/login' && (await page.locator('#flash').count()) === 1);
  };
  const { reviewer, admin, other, idle } = opt.accounts;

  const { context, page } = await newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true },
  });

  // 1. Signed out: the portal sends us to the sign-in page, in Japanese.
  await page.goto(opt.url + '/portal/account');
  check('redirected to sign-in', new URL(page.url()).pathname === '/portal/login');
  check('Japanese by default', (await page.getAttribute('html', 'lang')) === 'ja');
  for (const [sel, ac] of [['#username', 'username'], ['#password', 'current-password'], ['#code', 'one-time-code']]) {
    check(`autocomplete ${ac}`, (await page.getAttribute(sel, 'autocomplete')) === ac);
    const id = sel.slice(1);
    check(`label for ${id}`, (await page.locator(`label[for="${id}"]`).count()) === 1);
  }
  await shot(page, 'login');
  await axe(page, 'login');

  // 2. A failed sign-in: the same status and message for a real account
  // with a wrong password and for an account that does not exist.
  const fail = async (user) => {
    await page.fill('#username', user);
    await page.fill('#password', 'not the password at all');
    await page.fill('#code', '000000');
    const resp = await submit(page, '#signin');
    return { status: resp.status(), msg: await text(page, '#signin-error') };
  };
  const real = await fail(reviewer.username);
  await shot(page, 'login-failed');
  await axe(page, 'login-failed');
  const ghost = await fail('no-such-person');
  check('failure message shown', real.msg.length > 10 && real.status === 401, JSON.stringify(real));
  check('failure identical for real and unknown accounts', real.msg === ghost.msg && real.status === ghost.status,
    `${JSON.stringify(real)} vs ${JSON.stringify(ghost)}`);
  check('focus target after failure', (await page.locator('#signin-error[role="alert"]').count()) === 1);

  // 3. Keyboard-only sign-in with password and TOTP.
  await page.goto(opt.url + '/portal/login?next=%2Fportal%2F');
  await page.focus('#username');
  await page.keyboard.type(reviewer.username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(reviewer.password);
  await page.keyboard.press('Tab');
  await page.keyboard.type(totp(reviewer.secret));
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  check('keyboard sign-in', new URL(page.url()).pathname === '/portal/', page.url());
  const navLinks = await page.locator('header nav a').allTextContents();
  check('navigation for a reviewer', navLinks.includes('ホーム') && navLinks.includes('アカウント'), JSON.stringify(navLinks));
  await shot(page, 'home-reviewer');
  await axe(page, 'home');
  // The offline face credential look-up (portal/credential_list.go), empty.
  await page.goto(opt.url + '/portal/credentials?customer=cus_none');
  await shot(page, 'credentials');
  await axe(page, 'credentials');

  // 4. Cookie flags, and no script can read them.
  const cookies = await context.cookies();
  for (const name of ['__Host-mdg_session', '__Host-mdg_browser']) {
    const c = cookies.find((x) => x.name === name);
    check(`cookie ${name}`, c && c.secure && c.httpOnly && c.sameSite === 'Strict' && c.path === '/', JSON.stringify(c));
  }
  check('document.cookie empty', (await page.evaluate(() => document.cookie)) === '');

  // 5. Register a passkey with the virtual authenticator.
  await page.goto(opt.url + '/portal/account');
  await shot(page, 'account');
  await axe(page, 'account');
  await page.fill('#passkey-name', 'e2e 仮想認証器');
  await Promise.all([page.waitForURL(/\/portal\/account$/, { waitUntil: 'load' }), page.click('#passkey-add')]);
  await page.waitForSelector('#flash');
  check('passkey listed', (await page.locator('table').textContent()).includes('e2e 仮想認証器'));
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  check('authenticator holds a resident credential', credentials.length === 1 && credentials[0].isResidentCredential, JSON.stringify(credentials.length));
  const deleteAction = await page.getAttribute('table form', 'action');
  const objectID = deleteAction.split('/')[4];
  await shot(page, 'account-passkey');
  await axe(page, 'account-passkey');

  // 6. TOTP re-enrolment shows a new key (not confirmed here).
  await submit(page, '#totp-new');
  check('new TOTP key shown', /^[A-Z2-7 ]{30,}$/.test(await text(page, '#totp-secret')));
  await shot(page, 'totp');
  await axe(page, 'totp');

  // 6b. The password change page (its form's autofill tokens; not submitted
  // here: package portal's tests change passwords).
  await page.goto(opt.url + '/portal/account/password');
  check('password form autofill', (await page.getAttribute('#current', 'autocomplete')) === 'current-password' &&
    (await page.getAttribute('#new', 'autocomplete')) === 'new-password');
  await shot(page, 'password');
  await axe(page, 'password');

  // 7. CSRF: a forged token and a token-less script post are refused, and
  // nothing happened.
  await page.goto(opt.url + '/portal/account');
  await page.evaluate(() => { document.querySelector('form[action="/portal/logout"] input[name=csrf]').value = 'forged'; });
  const csrfResp = await submit(page, '#signout');
  check('forged CSRF token refused', csrfResp.status() === 403, String(csrfResp.status()));
  await shot(page, 'csrf-refused');
  await axe(page, 'error-page');
  const noToken = await page.evaluate(async () => (await fetch('/portal/logout', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'x=1' })).status);
  check('token-less post refused', noToken === 403, String(noToken));
  await page.goto(opt.url + '/portal/account');
  check('still signed in after refused posts', new URL(page.url()).pathname === '/portal/account');

  // 8. Sign out, then sign in with the passkey.
  await signOut(page);
  await shot(page, 'signed-out');
  await Promise.all([page.waitForURL(/\/portal\/$/), page.click('#passkey-signin')]);
  check('passkey sign-in', new URL(page.url()).pathname === '/portal/');
  await page.goto(opt.url + '/portal/account');
  check('session opened with a passkey', (await page.locator('dl.facts').textContent()).includes('パスキー'));
  await shot(page, 'home-passkey');

  // 9. Re-authentication with the passkey.
  await page.goto(opt.url + '/portal/reauth?next=%2Fportal%2Faccount');
  await shot(page, 'reauth');
  await axe(page, 'reauth');
  await Promise.all([page.waitForURL(/\/portal\/account$/), page.click('#passkey-reauth')]);
  check('passkey re-authentication', new URL(page.url()).pathname === '/portal/account');

  // 10. English.
  await page.goto(opt.url + '/portal/');
  await submit(page, '#switch-lang');
  check('English', (await page.getAttribute('html', 'lang')) === 'en' && (await text(page, 'h1')) === 'Home');
  await shot(page, 'home-en');
  await axe(page, 'home-en');
  await page.goto(opt.url + '/portal/no/such/page');
  check('404 page', (await text(page, 'h1')).length > 0);
  await shot(page, 'not-found-en');
  await axe(page, 'not-found');
  await page.goto(opt.url + '/portal/');
  await submit(page, '#switch-lang');
  check('back to Japanese', (await page.getAttribute('html', 'lang')) === 'ja');
  await signOut(page);

  // 11. Another tenant: every route with an object answers 404 for the
  // reviewer's passkey; the owner's own works.
  await signIn(page, other);
  await shot(page, 'home-other-tenant');
  for (const r of opt.crossTenant || []) {
    const path = r.path.replace('{id}', objectID);
    const st = await page.evaluate(async ([m, p]) => {
      const token = document.querySelector('meta[name="csrf-token"]').content;
      const res = await fetch(p, { method: m, headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': token }, body: m === 'GET' ? undefined : 'x=1' });
      return res.status;
    }, [r.method, path]);
    check(`cross-tenant ${r.method} ${r.path}`, st === 404, `${path} = ${st}`);
  }
  await signOut(page);

  // 12. An administrator's home page.
  await signIn(page, admin);
  await shot(page, 'home-admin');
  await axe(page, 'home-admin');
  await context.close();

  // 13. The idle timeout (a server configured with a short one).
  const idleTab = await newPage();
  await signIn(idleTab.page, idle, opt.idleURL);
  await idleTab.page.waitForTimeout(opt.idleMs + 1500);
  await idleTab.page.goto(opt.idleURL + '/portal/account');
  check('idle timeout', new URL(idleTab.page.url()).pathname === '/portal/login' && (await idleTab.page.locator('#flash').count()) === 1, idleTab.page.url());
  await shot(idleTab.page, 'idle-expired');
  await idleTab.context.close();

  check('no console errors or CSP violations', problems.length === 0, problems.join('\n'));
  emit({ event: 'done' });
  status = 0;
} catch (e) {
  console.error(e instanceof Failure ? e.message : e.stack || String(e));
  if (problems.length) console.error(problems.join('\n'));
} finally {
  await browser.close();
}
process.exit(status);
