// Drives the portal's audit pages and dashboard in headless Chromium, as an
// auditor would: the audit log, an entry whose inclusion proof is verified
// in the page (WebCrypto SHA-256 and Ed25519, static/auditproof.js), the
// same verification after the proof response is rewritten in flight
// (entry, proof, checkpoint, signature), with another log's key, and on an
// entry edited in the database (each must say FAILED); the proof bundle
// downloaded; the object's trail; the dashboard's server-drawn chart;
// another tenant's auditor refused (404) on every audit route with an id;
// an operator auditor choosing a tenant. axe-core on every page (no
// serious or critical violation), no console error or CSP violation. Used
// by cmd/madoguchi/e2e_portal_audit_test.go.
//
// Options (one JSON argument): url, shots, bundle (where to save the
// download), accounts {auditor, opAuditor, otherAuditor} ({username,
// password, secret}), entry and forged (entry indexes), otherKey (a verifier
// key of another log), crossTenant ([{route, path}]), chromium.
//
// Output: JSON lines {"event":"check"|"axe"|"screenshot"|"done",…}; exit
// status 1 with the reason on stderr at the first failed assertion.
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Failure, checker, launch, pageKit } from './portal-lib.mjs';

const opt = JSON.parse(process.argv[2] || '{}');
for (const k of ['url', 'shots', 'bundle', 'accounts', 'entry', 'forged', 'otherKey']) {
  if (!opt[k]) {
    console.error(`portal-audit.mjs: missing option ${k}`);
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
  const { newPage, shot, axe, submit, signIn } = pageKit({ browser, opt, emit, check, problems, prefix: 'portal-audit', contextOptions: { acceptDownloads: true } });
  const text = async (page, sel) => ((await page.locator(sel).first().textContent()) || '').trim();
  const signOut = async (page) => {
    await submit(page, '#signout');
  };
  // openEntry opens an entry page, waiting for a signed checkpoint that
  // covers it (the test server signs one every second).
  const openEntry = async (page, idx) => {
    for (let i = 0; i < 30; i++) {
      await page.goto(`${opt.url}/portal/audit/entries/${idx}`);
      if (await page.locator('#verify-steps, #not-checkpointed').count() === 0 && (await page.locator('#verifier-key').count()) === 1) {
        await page.waitForSelector('#verify-run:not([hidden])'); // the key is fetched first
        return;
      }
      await page.waitForTimeout(500);
    }
    throw new Failure(`entry ${idx}: no checkpoint covers it`);
  };
  const verify = async (page) => {
    await page.click('#verify-run');
    await page.waitForFunction(() => ['verified', 'failed'].includes(document.getElementById('verify-result').dataset.state));
    const failed = await page.locator('#verify-steps li[data-result="failed"]').evaluateAll((ls) => ls.map((l) => l.dataset.step));
    return { state: await page.getAttribute('#verify-result', 'data-state'), text: await text(page, '#verdict'), failed: failed[0] || null };
  };
  const { auditor, opAuditor, otherAuditor } = opt.accounts;

  // 1. The audit log, as the tenant's auditor.
  const { context, page } = await newPage();
  await signIn(page, auditor);
  await page.goto(opt.url + '/portal/audit');
  const rows = await page.locator('table.audit tbody tr').count();
  check("audit page lists the tenant's entries", rows > 0 && (await page.locator('#checkpoint-size').count()) === 1, `${rows} rows`);
  await shot(page, 'audit');
  await axe(page, 'audit');

  // 2. An entry, verified in the browser.
  await openEntry(page, opt.entry);
  await shot(page, 'entry');
  check('verifier key fetched from /v1/audit/key', (await page.getAttribute('#key-source', 'data-source')) === 'published',
    await page.getAttribute('#key-source', 'data-source'));
  let r = await verify(page);
  check('entry verified in the browser', r.state === 'verified' && /VERIFIED/.test(r.text), JSON.stringify(r));
  const steps = await page.locator('#verify-steps li').evaluateAll((ls) => ls.map((l) => `${l.dataset.step}:${l.dataset.result}`));
  check('every step held', steps.length === 6 && steps.every((s) => s.endsWith(':ok')), JSON.stringify(steps));
  await shot(page, 'entry-verified');
  await axe(page, 'entry-verified');

  // 3. The proof rewritten in flight: FAILED, at the right step.
  const flipB64 = (s, i) => {
    const b = Buffer.from(s, 'base64');
    b[i < 0 ? b.length + i : i] ^= 1;
    return b.toString('base64');
  };
  const editLines = (body, f) => {
    const [head, cp] = [body.slice(0, body.indexOf('\n\n')), body.slice(body.indexOf('\n\n') + 2)];
    const h = head.split('\n');
    const c = cp.split('\n');
    f(h, c);
    return h.join('\n') + '\n\n' + c.join('\n');
  };
  const proofURL = `**/portal/audit/entries/${opt.entry}/proof`;
  const tamper = async (name, edit, step) => {
    await page.route(proofURL, async (route) => {
      const resp = await route.fetch();
      await route.fulfill({ response: resp, body: edit(await resp.text()) });
    });
    const res = await verify(page);
    await page.unroute(proofURL);
    check(`FAILED: ${name}`, res.state === 'failed' && /FAILED/.test(res.text) && (!step || res.failed === step), JSON.stringify(res));
    return res;
  };
  await tamper('entry tampered in flight', (b) => editLines(b, (h) => { h[1] = 'extra ' + flipB64(h[1].slice(6), 12); }));
  await tamper('proof tampered in flight', (b) => editLines(b, (h) => { h[3] = flipB64(h[3], 0); }), 'inclusion');
  await tamper('checkpoint tampered in flight', (b) => editLines(b, (h, c) => { c[2] = flipB64(c[2], 5); }), 'signature');
  await tamper('signature tampered in flight', (b) => editLines(b, (h, c) => {
    const i = c.findIndex((l) => l.startsWith('\u2014 '));
    const parts = c[i].split(' ');
    parts[2] = flipB64(parts[2], -1);
    c[i] = parts.join(' ');
  }), 'signature');
  const serverKey = await page.inputValue('#verifier-key');
  await page.fill('#verifier-key', opt.otherKey);
  r = await verify(page);
  check("FAILED: another log's key", r.state === 'failed' && r.failed === 'signature', JSON.stringify(r));
  await page.fill('#verifier-key', serverKey);

  // 4. The proof bundle, for 'madoguchi audit verify'.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#bundle-download')]);
  await dl.saveAs(opt.bundle);
  check('bundle downloaded', dl.suggestedFilename() === `madoguchi-audit-entry-${opt.entry}.tlog-proof` && statSync(opt.bundle).size > 200,
    dl.suggestedFilename());

  // 5. The object's trail.
  await submit(page, '#entry-trail');
  const trailRows = await page.locator('table.audit tbody tr').count();
  check("trail of the entry's object", new URL(page.url()).pathname.startsWith('/portal/audit/trail/') && trailRows > 0, page.url());
  await shot(page, 'trail');
  await axe(page, 'trail');

  // 6. An entry edited in the database (with its leaf hash): FAILED.
  await openEntry(page, opt.forged);
  r = await verify(page);
  check('FAILED: entry edited in the database', r.state === 'failed' && r.failed === 'inclusion' && /FAILED/.test(r.text), JSON.stringify(r));
  await shot(page, 'entry-failed');
  await axe(page, 'entry-failed');

  // 7. The dashboard: SVG drawn by the server, the tenant's figures.
  await page.goto(opt.url + '/portal/dashboard');
  const bars = await page.locator('#sessions-chart rect').count();
  check('dashboard chart drawn', bars >= 20, `${bars} bars`);
  const total = Number(await text(page, '#sessions-total'));
  check('dashboard figures', total >= 40 && (await text(page, '#webhook-dead')) === '2' && /%$/.test(await text(page, '#referral-rate')),
    `${total} ${await text(page, '#webhook-dead')} ${await text(page, '#referral-rate')}`);
  await shot(page, 'dashboard');
  await axe(page, 'dashboard');
  await submit(page, '#switch-lang');
  check('dashboard in English', (await page.getAttribute('html', 'lang')) === 'en' && (await text(page, 'h1')) === 'Dashboard');
  await shot(page, 'dashboard-en');
  await axe(page, 'dashboard-en');
  await submit(page, '#switch-lang');
  await signOut(page);

  // 8. Another tenant's auditor: every audit route with an id is 404.
  await signIn(page, otherAuditor);
  for (const c of opt.crossTenant || []) {
    const st = await page.evaluate(async (p) => (await fetch(p)).status, c.path);
    check(`cross-tenant ${c.route}`, st === 404, `${c.path} = ${st}`);
  }
  await signOut(page);

  // 9. An operator auditor chooses a tenant.
  await signIn(page, opAuditor);
  await page.goto(opt.url + '/portal/audit');
  const options = await page.locator('#tenant option').count();
  await page.selectOption('#tenant', { index: 2 });
  await submit(page, '#filter-submit');
  check('operator chooses a tenant', options >= 4 && new URL(page.url()).searchParams.get('tenant') !== '' &&
    (await page.locator('table.audit tbody tr').count()) > 0, page.url());
  await shot(page, 'audit-operator');
  await axe(page, 'audit-operator');
  await page.goto(opt.url + '/portal/dashboard');
  await shot(page, 'dashboard-operator');
  await context.close();

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
