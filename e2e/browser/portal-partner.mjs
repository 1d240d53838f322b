// Drives the portal's partner onboarding pages in headless Chromium: a
// tenant admin records an area (a text file as evidence is refused on the
// area's form; a PDF is accepted), a reviewer downloads the evidence and
// signs the assessment off, the admin requests activation and cannot
// approve it, an operator admin approves it in the inbox; another tenant's
// admin gets 404 (403 where the route is not for admins) on every
// onboarding route; axe-core checks every page (no serious or critical
// violation). Used by cmd/madoguchi/e2e_portal_partner_test.go.
//
// Options (one JSON argument): url, shots, client (the partner client's
// id, pending, every area but the first recorded), area (the first area),
// accounts {admin, reviewer, operator, other}: each {username, password,
// secret}, crossTenant ([{method, path, want}]), chromium.
//
// Output: one JSON line per event (check, axe, screenshot, done); exit
// status 1 with the reason on stderr at the first failed assertion.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Failure, checker, launch, pageKit } from './portal-lib.mjs';

const opt = JSON.parse(process.argv[2] || '{}');
for (const k of ['url', 'shots', 'client', 'area', 'accounts', 'crossTenant']) {
  if (!opt[k]) {
    console.error(`portal-partner.mjs: missing option ${k}`);
    process.exit(2);
  }
}
mkdirSync(opt.shots, { recursive: true });
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const check = checker(emit);
const pdf = Buffer.from('%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n');

const browser = await launch(opt);
let status = 1;
const problems = [];
try {
  const { newPage, shot, axe, submit, signIn } = pageKit({ browser, opt, emit, check, problems, prefix: 'partner', timeout: 15000, expectedStatus: /status of (40[1349]|422)/ });
  const both = async (page, name) => { await shot(page, name); await axe(page, name); };
  const text = async (page, sel) => ((await page.locator(sel).textContent()) || '').trim();
  const send = (page, method, path) => page.evaluate(async ([m, p]) => {
    const token = document.querySelector('meta[name="csrf-token"]').content;
    const res = await fetch(p, { method: m, redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': token }, body: m === 'GET' ? undefined : 'x=1' });
    return res.status;
  }, [method, path]);
  const { admin, reviewer, operator, other } = opt.accounts;
  const pagePath = `/portal/partners/${opt.client}`;
  const area = opt.area;

  // 1. The admin: the list, the page, a refused file, then a PDF.
  const A = await newPage();
  await signIn(A.page, admin);
  await A.page.goto(opt.url + '/portal/partners');
  check('partner listed', (await text(A.page, '#partners')).includes(opt.client));
  await both(A.page, 'list');
  await submit(A.page, `#partners a[href="${pagePath}"]`);
  check('nine areas listed', (await A.page.locator('#partner-areas tbody tr').count()) === 9 &&
    (await text(A.page, '#partner-areas')).includes('セキュリティ管理体制'));
  await both(A.page, 'page');
  await A.page.selectOption(`#status-${area}`, 'met');
  await A.page.setInputFiles(`#evidence-${area}`, { name: 'policy.txt', mimeType: 'text/plain', buffer: Buffer.from('not a PDF') });
  const bad = await submit(A.page, `#save-${area}`);
  check('a text file is refused on its form', bad.status() === 422 &&
    (await A.page.getAttribute(`#evidence-${area}`, 'aria-invalid')) === 'true' && (await text(A.page, `#evidence-${area}-error`)).includes('PDF'));
  await both(A.page, 'refused-file');
  await A.page.selectOption(`#status-${area}`, 'met');
  await A.page.fill(`#note-${area}`, 'ISMS 認証書');
  await A.page.setInputFiles(`#evidence-${area}`, { name: 'isms.pdf', mimeType: 'application/pdf', buffer: pdf });
  await submit(A.page, `#save-${area}`);
  check('the area is recorded with its evidence', (await A.page.locator('#flash').count()) === 1 &&
    (await text(A.page, `#row-${area}`)).includes('isms.pdf'));
  check('no sign-off or activation offered to the admin', (await A.page.locator('#partner-signoff-button').count()) === 0 &&
    (await A.page.locator('#partner-activate').count()) === 0);

  // 2. The reviewer: the evidence as recorded, then the sign-off.
  const R = await newPage();
  await signIn(R.page, reviewer);
  await R.page.goto(opt.url + pagePath);
  const got = await R.page.evaluate(async (href) => {
    const res = await fetch(href);
    return { status: res.status, type: res.headers.get('content-type'), body: Array.from(new Uint8Array(await res.arrayBuffer())) };
  }, await R.page.getAttribute(`#row-${area} a[href$="/evidence"]`, 'href'));
  check('the reviewer downloads the evidence', got.status === 200 && got.type === 'application/pdf' && Buffer.from(got.body).equals(pdf));
  check('no recording form for the reviewer', (await R.page.locator(`#save-${area}`).count()) === 0);
  await submit(R.page, '#partner-signoff-button');
  check('the reviewer signs off', (await text(R.page, '#partner-signoff')).includes(reviewer.username));
  await both(R.page, 'signed-off');

  // 3. The admin files the activation; they cannot approve it.
  await A.page.goto(opt.url + pagePath);
  await submit(A.page, '#partner-activate');
  const ap = (new URL(A.page.url()).pathname.match(/^\/portal\/admin\/approvals\/(ap_[a-z0-9]+)$/) || [])[1];
  check('activation filed for approval', ap && (await text(A.page, '#approval-facts')).includes(opt.client), A.page.url());
  await both(A.page, 'approval');
  check('the requester cannot approve', (await send(A.page, 'POST', `/portal/admin/approvals/${ap}/approve`)) === 409);

  // 4. An operator admin approves it in the inbox.
  const O = await newPage();
  await signIn(O.page, operator);
  await O.page.goto(opt.url + `/portal/admin/approvals/${ap}`);
  await submit(O.page, '#approve');
  check('a second admin approves the activation', (await O.page.locator('#flash').count()) === 1);
  await O.page.goto(opt.url + pagePath);
  check('the partner is active', (await text(O.page, '#partner-status')) === '有効');
  await both(O.page, 'active');

  // 5. Another tenant's admin: every onboarding route.
  const X = await newPage();
  await signIn(X.page, other);
  for (const r of opt.crossTenant) {
    const path = r.path.replace('{id}', opt.client).replace('{area}', area);
    const st = await send(X.page, r.method, path);
    check(`cross-tenant ${r.method} ${r.path}`, st === r.want, `${path} = ${st}, want ${r.want}`);
  }
  for (const c of [A, R, O, X]) await c.context.close();

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
