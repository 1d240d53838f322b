// Drives Madoguchi's transaction confirmation page (/txauth/confirm) in
// headless Chromium, as a customer holding the image card would. Used by
// cmd/madoguchi/e2e_txauth_browser_test.go.
//
//   node confirm.mjs '{"url":"…#t=…","shots":"/tmp/shots"}'                  (card mode)
//   node confirm.mjs '{"relying":"http://127.0.0.1:PORT/","malware":true,
//                      "intended":{"account":"1234567","name":"ヤマダ　タロウ"},"shots":…}'  (MITB mode)
//
// Card mode: for each challenge shown it prints
// {"event":"challenge","id":…,"cells":[…],"candidates":N,"images":N,"payee":…}
// and reads one JSON line from stdin: {"picks":[id0,id1]} to click those
// candidates and confirm. It then prints {"event":"wrong",…} or
// {"event":"done","state":…}. The card holder's knowledge (which candidate
// is the right one) comes from the test, which holds the card.
//
// MITB mode: opens the relying service's page; with "malware" a script
// injected into that page rewrites the payee in the form as it is
// submitted (after the customer looked at it). On Madoguchi's page the
// customer compares the payee shown there with the one intended and, when
// they differ, presses "these details are wrong". Prints
// {"event":"shown","account":…,"name":…} and {"event":"done","state":…}.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const opt = JSON.parse(process.argv[2] || '{}');
if (!opt.shots || !(opt.url || opt.relying || opt.passkeyUrls || opt.faceUrl)) {
  console.error('confirm.mjs: need shots and url or relying');
  process.exit(2);
}
mkdirSync(opt.shots, { recursive: true });
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const readLine = async () => { const r = await lines.next(); if (r.done) throw new Error('stdin closed'); return JSON.parse(r.value); };

const browser = await chromium.launch({
  executablePath: opt.chromium || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-default-apps', '--no-first-run', '--disable-dev-shm-usage', '--lang=ja-JP',
    ...(opt.video ? ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${opt.video}`] : [])],
});
let status = 1;
try {
  const context = await browser.newContext({ viewport: { width: 390, height: 900 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'ja-JP' });
  context.setDefaultTimeout(opt.timeoutMs || 60000);
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.error(`console.error: ${m.text()}`); });
  page.on('pageerror', (e) => console.error(`pageerror: ${e.message}`));
  let n = 0;
  const shot = async (name) => { await page.screenshot({ path: join(opt.shots, `${String(++n).padStart(2, '0')}-txauth-${name}.png`), fullPage: true }); };
  const screen = async () => page.evaluate(() => document.body.dataset.screen);
  const waitSettled = async () => {
    await page.waitForFunction(() => ['confirm', 'done', 'error'].includes(document.body.dataset.screen) &&
      (document.body.dataset.screen !== 'confirm' || !document.body.dataset.challenge || document.body.dataset.images === 'ready'));
  };
  const field = async (name) => (await page.locator(`dd[data-field="${name}"]`).textContent()).trim();

  if (opt.faceUrl) {
    // Face re-authentication with the fake camera (a still photograph).
    await page.goto(opt.faceUrl);
    await waitSettled();
    if ((await page.evaluate(() => document.body.dataset.face)) !== 'due') throw new Error('no face check due');
    await shot('face');
    await page.click('#btn-face');
    await page.waitForFunction(() => document.body.dataset.say === 'say.front');
    await shot('face-running');
    await page.waitForSelector('body[data-screen="done"], body[data-screen="error"], #face-error:not([hidden])', { state: 'attached', timeout: 120000 });
    await shot('face-after');
    emit({ event: 'face', state: await page.evaluate(() => document.body.dataset.state || ''),
      reasons: await page.evaluate(() => document.body.dataset.faceReasons || '') });
    status = 0;
  } else if (opt.passkeyUrls) {
    // A platform authenticator with user verification, through the CDP
    // WebAuthn domain; it keeps its credential across the pages below.
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', { options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true } });
    page.on('request', (r) => {
      if (r.url().endsWith('/v1/txauth/page/passkey/finish')) emit({ event: 'finish-body', body: r.postData() });
    });
    // After the given URLs the driver asks for more on stdin
    // ({"url": …} or {"stop": true}): the test opens confirmations that need
    // the passkey registered first, in the same browser.
    const urls = [...opt.passkeyUrls];
    for (let i = 0; ; i++) {
      if (i >= urls.length) {
        if (!opt.more) break;
        emit({ event: 'more' });
        const cmd = await readLine();
        if (!cmd.url) break;
        urls.push(cmd.url);
      }
      const u = urls[i];
      await page.goto('about:blank'); // a new document: the URLs differ only in their fragment
      await page.goto(u);
      await waitSettled();
      if ((await page.evaluate(() => document.body.dataset.passkey)) !== 'due') throw new Error('no passkey due on page ' + i);
      await shot('passkey-' + i);
      await page.click('#btn-passkey');
      await page.waitForSelector('body[data-screen="done"], #passkey-error:not([hidden])', { state: 'attached' });
      await shot('passkey-' + i + '-after');
      emit({ event: 'done', state: await page.evaluate(() => document.body.dataset.state || 'failed') });
    }
    status = 0;
  } else if (opt.relying) {
    if (opt.malware) {
      // The man in the browser: rewrites the payee as the form is submitted,
      // after the customer has read it.
      await page.addInitScript(() => {
        document.addEventListener('submit', () => {
          document.getElementById('account').value = '7654321';
          document.getElementById('name').value = 'ｱｸﾆﾝ ﾀﾛｳ';
        }, true);
      });
    }
    await page.goto(opt.relying);
    await shot('relying-page');
    await page.click('#send');
    await page.waitForURL(/\/txauth\/confirm/);
    await waitSettled();
    if (new URL(page.url()).hash !== '') throw new Error('the confirmation token is still in the address bar');
    const account = await field('tx.account'), name = await field('tx.name');
    emit({ event: 'shown', account, name });
    await shot('mitb-confirm');
    if (!account.includes(opt.intended.account) || name !== opt.intended.name) {
      await page.click('#btn-mismatch');
    } else {
      throw new Error('the page shows the intended payee: nothing to refuse');
    }
    await page.waitForSelector('body[data-screen="done"]', { state: 'attached' });
    await shot('mitb-done');
    emit({ event: 'done', state: await page.evaluate(() => document.body.dataset.state) });
    status = 0;
  } else {
    await page.goto(opt.url);
    await waitSettled();
    if (new URL(page.url()).hash !== '') throw new Error('the confirmation token is still in the address bar');
    for (let round = 0; round < 8; round++) {
      const s = await screen();
      if (s === 'done') {
        await shot('done');
        emit({ event: 'done', state: await page.evaluate(() => document.body.dataset.state) });
        status = 0;
        break;
      }
      if (s === 'error') {
        await shot('error');
        emit({ event: 'error', text: (await page.locator('#error-body').textContent()).trim() });
        status = 0;
        break;
      }
      const ch = await page.evaluate(() => ({
        id: document.body.dataset.challenge,
        cells: [document.getElementById('cell-0-label').textContent, document.getElementById('cell-1-label').textContent],
        candidates: document.querySelectorAll('.grid button').length,
        images: [...document.querySelectorAll('.grid img')].filter((i) => i.complete && i.naturalWidth > 0).length,
        srcs: [...document.querySelectorAll('.grid img')].map((i) => i.src.slice(0, 5)),
        wrong: !document.getElementById('wrong').hidden,
        attempts: document.getElementById('attempts').textContent,
        ids: [0, 1].map((i) => [...document.querySelectorAll('#grid-' + i + ' button')].map((b) => b.dataset.candidate)),
      }));
      let payee = '';
      if (await page.locator('dd[data-field="tx.name"]').count()) payee = await field('tx.name');
      await shot('challenge-' + round);
      emit({ event: 'challenge', id: ch.id, cells: ch.cells, candidates: ch.candidates, images: ch.images,
        blobs: ch.srcs.every((x) => x === 'blob:'), wrong: ch.wrong, attempts: ch.attempts, ids: ch.ids, payee });
      const cmd = await readLine();
      if (cmd.reopen) {
        // The customer opens the same link again (the page keeps the token
        // in memory only, so a plain reload has none).
        await page.goto('about:blank');
        await page.goto(opt.url);
        await waitSettled();
        continue;
      }
      for (const id of cmd.picks) await page.click(`.grid button[data-candidate="${id}"]`);
      await page.click('#btn-answer');
      await page.waitForFunction((prev) => document.body.dataset.screen !== 'confirm' ||
        (document.body.dataset.challenge !== prev && document.body.dataset.images === 'ready'), ch.id);
      await waitSettled();
    }
  }
} catch (e) {
  console.error(String(e && e.stack || e));
} finally {
  await browser.close();
}
process.exit(status);
