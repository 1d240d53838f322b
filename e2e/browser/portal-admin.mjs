// Drives the staff portal's administration pages in headless Chromium:
// a tenant admin creates an API client from a JWKS file and proposes a
// weakening eKYC policy change (a lower face-match threshold); the
// requester cannot approve either; an operator admin approves both in the
// inbox, which performs them; another tenant's admin gets 404 (or 403 on
// the operator's pages) on every administration route with an object;
// axe-core checks every administration page (no serious or critical
// violation). Used by cmd/madoguchi/e2e_portal_admin_test.go.
//
// Options (one JSON argument): url, shots, tenantID, webhook (an event id
// of the tenant), jwks (a public JWKS), accounts {admin, operator, other}:
// each {username, password, secret}, crossTenant ([{method, path, kind,
// want}]), chromium.
//
// Output: one JSON line per event ({"event":"check","name":…},
// {"event":"axe",…}, {"event":"screenshot",…}, {"event":"done"}); exit
// status 1 with the reason on stderr at the first failed assertion.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Failure, checker, launch, pageKit } from './portal-lib.mjs';

const opt = JSON.parse(process.argv[2] || '{}');
for (const k of ['url', 'shots', 'tenantID', 'webhook', 'jwks', 'accounts', 'crossTenant']) {
  if (!opt[k]) {
    console.error(`portal-admin.mjs: missing option ${k}`);
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
  const { newPage, shot, axe, submit, signIn } = pageKit({ browser, opt, emit, check, problems, prefix: 'admin', timeout: 15000, expectedStatus: /status of (40[1349]|422)/ });
  const visit = async (page, path, name) => {
    const resp = await page.goto(opt.url + path);
    if (resp.status() !== 200) throw new Failure(`GET ${path} = ${resp.status()}`);
    await shot(page, name);
    await axe(page, name);
  };
  const text = async (page, sel) => ((await page.locator(sel).textContent()) || '').trim();
  // post sends a form post from the page with its CSRF token (as a form
  // would) and returns the status.
  const post = (page, path) => page.evaluate(async (p) => {
    const token = document.querySelector('meta[name="csrf-token"]').content;
    const res = await fetch(p, { method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': token }, body: 'x=1' });
    return res.status;
  }, path);
  const approvalID = (page) => {
    const m = new URL(page.url()).pathname.match(/^\/portal\/admin\/approvals\/(ap_[a-z0-9]+)$/);
    return m && m[1];
  };
  const { admin, operator, other } = opt.accounts;

  // 1. The tenant admin: the administration index, then an API client
  // from a JWKS file, filed for approval.
  const A = await newPage();
  await signIn(A.page, admin);
  await visit(A.page, '/portal/admin', 'admin');
  await visit(A.page, '/portal/admin/clients', 'clients');
  await A.page.fill('#client-name', 'ブラウザ検証アプリ');
  await A.page.fill('#client-scopes', 'ekyc:sessions ekyc:results');
  await A.page.setInputFiles('#client-jwks', { name: 'jwks.json', mimeType: 'application/json', buffer: Buffer.from(opt.jwks) });
  await submit(A.page, '#client-create');
  const clientReq = approvalID(A.page);
  check('client request filed', clientReq && (await A.page.locator('#approval-mine').count()) === 1 && (await A.page.locator('#approve').count()) === 0, A.page.url());
  check('request shows the key id', (await text(A.page, '#approval-facts')).includes('browser-key-1'));
  await shot(A.page, 'approval-mine');
  await axe(A.page, 'approval-mine');
  check('requester cannot approve', (await post(A.page, `/portal/admin/approvals/${clientReq}/approve`)) === 409);

  // 2. A weakening policy change: the face-match threshold from 0.6 to
  // 0.4. The preview marks it; applying files a request; nothing changes yet.
  await A.page.goto(opt.url + '/portal/admin/policy');
  check('policy version 1 shown', (await text(A.page, '#policy-version')).includes('1'));
  const pol = JSON.parse(await A.page.inputValue('#policy'));
  pol.face_match.threshold = 0.4;
  await A.page.fill('#policy', JSON.stringify(pol, null, 2));
  await submit(A.page, '#policy-preview');
  const weak = await A.page.locator('#policy-diff tr.weakens').allTextContents();
  check('policy diff marks the weakening', weak.length === 1 && weak[0].includes('face_match.threshold') && weak[0].includes('0.4') &&
    (await A.page.locator('#policy-weakens').count()) === 1, JSON.stringify(weak));
  await shot(A.page, 'policy-diff');
  await axe(A.page, 'policy-diff');
  await submit(A.page, '#policy-apply');
  const policyReq = approvalID(A.page);
  check('weakening change filed for approval', policyReq && (await A.page.locator('#policy-diff tr.weakens').count()) === 1, A.page.url());
  check('requester cannot approve the policy', (await post(A.page, `/portal/admin/approvals/${policyReq}/approve`)) === 409);
  await A.page.goto(opt.url + '/portal/admin/policy');
  check('policy unchanged before approval', (await text(A.page, '#policy-version')).includes('1') && (await A.page.inputValue('#policy')).includes('0.6'));

  // 3. The tenant's staff, an account and the webhook deliveries.
  await visit(A.page, '/portal/admin/staff', 'staff');
  await submit(A.page, '#accounts a >> nth=0');
  const accountID = new URL(A.page.url()).pathname.split('/').pop();
  await shot(A.page, 'account');
  await axe(A.page, 'account');
  await visit(A.page, '/portal/admin/webhooks', 'webhooks');
  check('tenant sees its webhook', (await text(A.page, '#deliveries')).includes(opt.webhook));

  // 4. The operator admin: the inbox, then approving both requests.
  const O = await newPage();
  await signIn(O.page, operator);
  await visit(O.page, '/portal/admin/approvals', 'inbox');
  check('inbox lists both requests', (await text(O.page, '#pending')).length > 0 &&
    (await O.page.locator(`#pending a[href$="${clientReq}"]`).count()) === 1 && (await O.page.locator(`#pending a[href$="${policyReq}"]`).count()) === 1);
  await visit(O.page, `/portal/admin/approvals/${clientReq}`, 'approval-other');
  await submit(O.page, '#approve');
  check('operator approves the client', (await O.page.locator('#flash').count()) === 1 && (await text(O.page, '#approval-decider')) === operator.username);
  await O.page.goto(opt.url + `/portal/admin/clients?tenant=${opt.tenantID}`);
  await submit(O.page, '#clients a >> nth=0');
  const clientID = new URL(O.page.url()).pathname.split('/').pop();
  check('client created from the JWKS', (await text(O.page, '#client-facts')).includes('browser-key-1') && (await text(O.page, '#client-facts')).includes('private_key_jwt'));
  await shot(O.page, 'client');
  await axe(O.page, 'client');
  await O.page.goto(opt.url + `/portal/admin/approvals/${policyReq}`);
  check('the approver sees the diff', (await O.page.locator('#policy-diff tr.weakens').count()) === 1);
  await submit(O.page, '#approve');
  check('second admin approves the policy', (await O.page.locator('#flash').count()) === 1 && (await text(O.page, '#approval-decider')) === operator.username);
  await visit(O.page, '/portal/admin/tenants', 'tenants');
  await visit(O.page, `/portal/admin/tenants/${opt.tenantID}`, 'tenant');
  await visit(O.page, '/portal/admin/trust', 'trust');
  await visit(O.page, '/portal/admin/keys', 'keys');
  await O.page.goto(opt.url + `/portal/admin/policy?tenant=${opt.tenantID}`);
  await submit(O.page, '#switch-lang');
  check('policy version 2 with the lower threshold', (await O.page.getAttribute('html', 'lang')) === 'en' &&
    (await text(O.page, '#policy-version')).includes('2') && JSON.parse(await O.page.inputValue('#policy')).face_match.threshold === 0.4);
  await shot(O.page, 'policy-en');
  await axe(O.page, 'policy-en');
  await submit(O.page, '#switch-lang');

  // 5. Another tenant's admin: every administration route with an object.
  const X = await newPage();
  await signIn(X.page, other);
  const ids = { tenant: opt.tenantID, client: clientID, account: accountID, approval: policyReq, webhook: opt.webhook };
  for (const r of opt.crossTenant) {
    const path = r.path.replace('{id}', ids[r.kind]);
    const st = await X.page.evaluate(async ([m, p]) => {
      const token = document.querySelector('meta[name="csrf-token"]').content;
      const res = await fetch(p, { method: m, redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': token }, body: m === 'GET' ? undefined : 'x=1' });
      return res.status;
    }, [r.method, path]);
    check(`cross-tenant ${r.method} ${r.path}`, st === r.want, `${path} = ${st}, want ${r.want}`);
  }
  await X.page.goto(opt.url + `/portal/admin/clients/${clientID}`);
  await shot(X.page, 'other-tenant-404');
  for (const c of [A, O, X]) await c.context.close();

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
