// Drives Madoguchi's review workbench and records in headless Chromium, as
// reviewers and an administrator would: a referred ヘ session rejected from
// the queue, a ヘ session approved by two reviewers (four eyes: its
// automated checks failed), a ホ session approved with what was read off
// the document images (first approval, then the second reviewer's), the
// chip photo (JPEG 2000, converted by the server) and the rectified card
// actually rendering (naturalWidth > 0), another tenant's reviewer getting
// 404 on every workbench and records route, and the verification record
// found by session id and downloaded as JSON and PDF. axe-core checks every
// page (no serious or critical violation). Used by
// cmd/madoguchi/e2e_review_test.go.
//
// Options (one JSON argument): url, shots, downloads (directory for the
// JSON and PDF downloads), accounts {reviewer, reviewer2, other, admin}:
// each {username, password, secret}, sessions {reject, fourEyes, ho} (ids),
// chromium.
//
// Output: one JSON line per event on stdout ({"event":"check","name":…},
// {"event":"axe",…}, {"event":"screenshot",…}, {"event":"download",…},
// {"event":"done"}); exit status 1 with the reason on stderr on the first
// failed assertion.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Failure, checker, launch, totpAt, pageKit } from './portal-lib.mjs';

const opt = JSON.parse(process.argv[2] || '{}');
for (const k of ['url', 'shots', 'downloads', 'accounts', 'sessions']) {
  if (!opt[k]) {
    console.error(`review.mjs: missing option ${k}`);
    process.exit(2);
  }
}
mkdirSync(opt.shots, { recursive: true });
mkdirSync(opt.downloads, { recursive: true });
const t0 = Date.now();
const emit = (o) => process.stdout.write(JSON.stringify({ ...o, ms: Date.now() - t0 }) + '\n');

// TOTP codes are single-use: wait for a fresh step when a code was used.
const used = new Set();
const totp = async (secret) => {
  for (;;) {
    const step = Math.floor(Date.now() / 30000);
    if (!used.has(secret + step)) {
      used.add(secret + step);
      return totpAt(secret, step);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
};

const check = checker(emit);

const browser = await launch(opt);
let status = 1;
const problems = [];
try {
  const { newPage, shot, axe, submit, signIn } = pageKit({ browser, opt, emit, check, problems, prefix: 'review', viewport: { width: 1400, height: 1000 }, expectedStatus: /status of (40[134]|422)/, contextOptions: { acceptDownloads: true }, code: totp });
  const flash = async (page) => ((await page.locator('#flash').count()) ? (await page.locator('#flash').textContent()).trim() : '');
  const signOut = async (page) => { await submit(page, '#signout'); };
  const imageShown = async (page, sel) => page.$eval(sel, async (img) => {
    if (!img.complete) await new Promise((r) => { img.onload = r; img.onerror = r; });
    return img.naturalWidth;
  });
  // openFromQueue opens a session from the queue and claims it.
  const openFromQueue = async (page, id) => {
    await page.goto(opt.url + '/portal/review');
    await submit(page, `a.session-link:text-is("${id}")`);
    check(`opened ${id} from the queue`, new URL(page.url()).pathname === `/portal/review/${id}`);
    await submit(page, '#claim');
    check(`claimed ${id}`, (await page.locator('#decide-form').count()) === 1);
  };
  // decide fills the decision form and records it.
  const decide = async (page, verdict, reasons, extra = {}) => {
    if (verdict === 'approve') {
      for (const box of await page.locator('input[name=check]').all()) await box.check();
    }
    await page.check(`#verdict-${verdict}`);
    for (const r of reasons) await page.check(`#reason-${r.replaceAll('.', '\\.')}`);
    for (const [k, v] of Object.entries(extra)) {
      if (k === 'doc_type') await page.selectOption('#doc_type', v);
      else await page.fill(`#${k}`, v);
    }
    await page.fill('#note', verdict === 'approve' ? '本人と確認しました' : '自撮りが静止画のため否認');
    await submit(page, '#decide');
    return flash(page);
  };
  const { reviewer, reviewer2, other, admin } = opt.accounts;
  const { reject, fourEyes, ho } = opt.sessions;

  const { context, page } = await newPage();
  await signIn(page, reviewer);
  // 1. The queue: all three sessions, oldest first, in Japanese.
  await page.goto(opt.url + '/portal/review');
  const listed = await page.locator('a.session-link').allTextContents();
  check('queue lists the referred sessions', [reject, fourEyes, ho].every((id) => listed.includes(id)), JSON.stringify(listed));
  await shot(page, 'queue');
  await axe(page, 'review-queue');

  // 2. A referred ヘ session, rejected from the queue; the chip photo
  // (JPEG 2000 on the chip) renders as the server's PNG.
  await openFromQueue(page, reject);
  check('chip photo renders', (await imageShown(page, '#chip-photo')) > 0);
  for (const sel of await page.locator('img.selfie-frame').all()) {
    const w = await sel.evaluate(async (img) => { if (!img.complete) await new Promise((r) => { img.onload = r; img.onerror = r; }); return img.naturalWidth; });
    if (w === 0) throw new Failure('a selfie frame did not render');
  }
  check('selfie frames render', (await page.locator('img.selfie-frame').count()) >= 2);
  check('liveness steps shown', (await page.locator('#liveness tbody tr').count()) >= 1);
  check('chip checks shown', (await page.locator('#chip-checks tbody tr').count()) >= 1);
  await shot(page, 'session-he');
  await axe(page, 'review-session-he');
  // The form refuses an approval with the checklist incomplete.
  await page.check('#verdict-approve');
  await page.check('#reason-review\\.identity_confirmed');
  await page.fill('#note', 'チェック漏れ');
  await submit(page, '#decide');
  check('incomplete checklist refused', (await page.locator('#check-error').count()) === 1);
  await shot(page, 'session-he-errors');
  await axe(page, 'review-session-errors');
  await page.uncheck('#verdict-approve').catch(() => {});
  await page.uncheck('#reason-review\\.identity_confirmed');
  const rejected = await decide(page, 'reject', ['review.presentation_attack']);
  check('ヘ session rejected', /否認を記録しました/.test(rejected), rejected);

  // 3. Four eyes: the first approval of a session whose checks failed
  // sends it back to the queue; the second reviewer's completes it.
  await openFromQueue(page, fourEyes);
  check('four eyes announced', (await page.locator('#four-eyes').count()) === 1);
  const first = await decide(page, 'approve', ['review.identity_confirmed', 'review.liveness_confirmed']);
  check('first approval recorded', /1人目の承認/.test(first), first);

  // 4. ホ: what was read off the document images, with the rectified card.
  await openFromQueue(page, ho);
  check('rectified card renders', (await imageShown(page, 'img.card')) > 0);
  check('document frames render', (await imageShown(page, 'img.doc-frame')) > 0);
  await shot(page, 'session-ho');
  await axe(page, 'review-session-ho');
  const hoFirst = await decide(page, 'approve', ['review.document_genuine'], {
    family_name: '見本', given_name: '花子', birthdate: '1990-01-02', address: '東京都千代田区千代田１－１',
    doc_type: 'driving_permit', doc_number: '301234567890', doc_expiry: '2030-01-01' });
  check('ホ first approval recorded', /1人目の承認/.test(hoFirst), hoFirst);
  await signOut(page);

  // 5. The second reviewer completes both approvals; the first reviewer's
  // reading of the ホ document is shown to them.
  await signIn(page, reviewer2);
  await openFromQueue(page, fourEyes);
  check('second reviewer sees the first approval', (await page.locator('#first-approval').count()) === 1);
  const second = await decide(page, 'approve', ['review.identity_confirmed']);
  check('four eyes: approved by the second reviewer', /承認を記録しました/.test(second), second);
  await openFromQueue(page, ho);
  check('second reviewer sees the ホ reading', (await page.locator('#first-claims').textContent()).includes('花子'));
  await shot(page, 'session-ho-second');
  const hoSecond = await decide(page, 'approve', ['review.document_genuine']);
  check('ホ session approved', /承認を記録しました/.test(hoSecond), hoSecond);
  await page.goto(opt.url + '/portal/review');
  check('queue empty after the decisions', (await page.locator('#queue-empty').count()) === 1);
  await signOut(page);
  await context.close();

  // 6. Another tenant's reviewer: every workbench and records route is 404.
  const otherTab = await newPage();
  await signIn(otherTab.page, other);
  for (const [m, p] of [['GET', `/portal/review/${reject}`], ['GET', `/portal/review/${fourEyes}/chip-photo`], ['GET', `/portal/review/${ho}/frames/1`],
    ['GET', `/portal/review/${ho}/cards/front`], ['POST', `/portal/review/${reject}/claim`], ['POST', `/portal/review/${ho}/decide`],
    ['POST', `/portal/review/${ho}/release`], ['GET', `/portal/records/rec_${ho.slice(4)}`], ['GET', `/portal/records/rec_${ho.slice(4)}/record.json`],
    ['GET', `/portal/records/rec_${ho.slice(4)}/record.pdf`]]) {
    const st = await otherTab.page.evaluate(async ([method, path]) => {
      const token = document.querySelector('meta[name="csrf-token"]').content;
      const res = await fetch(path, { method, headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': token }, body: method === 'GET' ? undefined : 'csrf=' + encodeURIComponent(token) });
      return res.status;
    }, [m, p]);
    check(`cross-tenant ${m} ${p.replace(/(ses|rec)_[a-z0-9]+/, '$1_…')}`, st === 404, `${p} = ${st}`);
  }
  await otherTab.context.close();

  // 7. Records: the administrator finds the ホ record by session id, sees
  // its retention and downloads it as JSON and PDF.
  const adminTab = await newPage();
  await signIn(adminTab.page, admin);
  await adminTab.page.goto(opt.url + '/portal/records');
  await axe(adminTab.page, 'records');
  await adminTab.page.fill('#session', ho);
  await submit(adminTab.page, '#search');
  check('record found by session id', (await adminTab.page.locator('a.record-link').count()) === 1);
  await shot(adminTab.page, 'records-hit');
  await axe(adminTab.page, 'records-hit');
  await submit(adminTab.page, 'a.record-link');
  check('record shows the reading', (await adminTab.page.locator('#claims').textContent()).includes('花子'));
  check('record shows its retention', (await adminTab.page.locator('#retain-until').count()) === 1);
  await shot(adminTab.page, 'record');
  await axe(adminTab.page, 'record');
  for (const [sel, name] of [['#download-json', 'record.json'], ['#download-pdf', 'record.pdf']]) {
    const [dl] = await Promise.all([adminTab.page.waitForEvent('download'), adminTab.page.click(sel)]);
    const file = join(opt.downloads, name);
    await dl.saveAs(file);
    emit({ event: 'download', file });
  }
  check('downloads saved', true);
  await adminTab.context.close();

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
