// Drives Madoguchi's capture page through one session in headless Chromium
// with a fake camera, as a customer would: intro, (ホ) three document photos
// or (ヘ) the chip screen, the selfie with the server's liveness challenge,
// submit. Used by cmd/madoguchi/e2e_browser_test.go; run by hand with
//
//   node capture.mjs '{"url":"http://127.0.0.1:PORT/ekyc/capture#t=…","video":"/tmp/face.y4m","shots":"/tmp/shots","method":"he"}'
//
// Options (one JSON argument): url, video (.y4m or .mjpeg for the fake
// camera), shots (directory for screenshots), method ("he" | "ho" | "wa"),
// device ("phone" | "kiosk"), switchLang (a language to switch to on the
// intro screen), openHandoff (ワ: open the hand-off link in a second phone
// page, which redeems its one-time token), cancelOnUse (with openHandoff:
// once the first page says its link was used, cancel the session there),
// chromium (default
// /usr/bin/chromium), timeoutMs.
//
// Output: one JSON line per event on stdout ({"event":"step","step":…},
// for ワ {"event":"handoff","link":…,"session":…} once the hand-off screen
// shows the QR code (with openHandoff, after the second page redeemed the
// link: {"event":"handoff-opened"} before it, {"event":"handoff-used","at":…}
// once the first page says its link was used, {"event":"handoff-fresh"}
// once its button showed a fresh link, and {"event":"phone-done",…}
// when that page shows the result), and {"event":"done","outcome":…,"title":…,"body":…,"progress":…}
// with what the result screen and the progress bar say: progress is
// {label, steps: [{class, colour, image}]}); page console errors on stderr. Exit
// status 0 when the page reached its result screen, 1 otherwise (the
// page's error text is printed). On every screenshot the visible text is
// checked for raw message keys ("intro.wa"): one is a failure.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const opt = JSON.parse(process.argv[2] || '{}');
for (const k of ['url', 'video', 'shots', 'method']) {
  if (!opt[k]) {
    console.error(`capture.mjs: missing option ${k}`);
    process.exit(2);
  }
}
const timeout = opt.timeoutMs || 120000;
mkdirSync(opt.shots, { recursive: true });
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const browser = await chromium.launch({
  executablePath: opt.chromium || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-default-apps', '--no-first-run', '--disable-dev-shm-usage',
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    `--use-file-for-fake-video-capture=${opt.video}`,
    '--lang=ja-JP',
  ],
});
let status = 1;
// Finished ends a run early once its scenario is complete.
class Finished extends Error {}
let phonePage = null;
let phone;
let handoffLink = '';
try {
  phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'ja-JP' };
  const kiosk = { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, hasTouch: true, locale: 'ja-JP' };
  const context = await browser.newContext(opt.device === 'kiosk' ? kiosk : phone);
  context.setDefaultTimeout(timeout);
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.error(`console.${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => console.error(`pageerror: ${e.message}`));
  let n = 0;
  // progress reads the progress bar as the customer sees it: the label
  // under it and each step's class and computed background.
  const progress = (p) => p.evaluate(() => {
    const label = document.getElementById('progress-label');
    return {
      label: label.hidden ? '' : label.textContent.trim(),
      steps: [...document.querySelectorAll('#progress li')].map((li) => {
        const cs = getComputedStyle(li);
        return { class: li.className, colour: cs.backgroundColor, image: cs.backgroundImage };
      }),
    };
  });
  // A raw message key on screen ("intro.wa", "result.rejected.title").
  const rawKey = /(?:^|[^\w./-])((?:intro|step|chip|doc_front|doc_back|doc_tilt|selfie|camera|say|sending|result|progress|error|err|jpki|done)\.[a-z_]+(?:\.[a-z_]+)*)(?![\w/])/m;
  const shot = async (name, p = page) => {
    const file = join(opt.shots, `${String(++n).padStart(2, '0')}-${opt.method}-${name}.png`);
    await p.screenshot({ path: file });
    emit({ event: 'screenshot', file });
    const text = await p.evaluate(() => document.body.innerText);
    const m = rawKey.exec(text);
    if (m) throw new Error(`screen ${name} shows the raw message key ${m[1]}`);
  };
  const errorText = async () => (await page.locator('#error-body').textContent()) + ' ' + (await page.locator('#error-code').textContent());
  // waitScreen waits for the named screen, failing fast on the error screen.
  const waitScreen = async (sel) => {
    await page.waitForSelector(`body[data-screen="error"], ${sel}`, { state: 'attached' });
    if (await page.locator('body[data-screen="error"]').count()) {
      await shot('error');
      throw new Error('page error: ' + (await errorText()));
    }
  };
  const check = async (sel, want) => {
    const got = (await page.locator(sel).textContent()).trim();
    if (!got.includes(want)) throw new Error(`${sel} = ${JSON.stringify(got)}, want it to contain ${JSON.stringify(want)}`);
  };

  await page.goto(opt.url);
  await waitScreen('body[data-screen="intro"]');
  if (new URL(page.url()).hash !== '') throw new Error('the capture token is still in the address bar');
  await shot('intro');
  if (opt.switchLang) {
    await page.click(`#lang-${opt.switchLang}`);
    await check('#screen-intro h1', opt.switchLang === 'ja' ? '本人確認を始めます' : 'verify your identity');
    await shot('intro-' + opt.switchLang);
  }
  await page.click('#btn-start');

  if (opt.method === 'wa') {
    // The hand-off: the QR code (rendered by the server) and the link for
    // the JPKI app, the reference for the kiosk; the test then signs as
    // the app would, and the page follows the server to its result.
    await waitScreen('body[data-screen="jpki"]');
    await page.waitForFunction(() => {
      const img = document.getElementById('jpki-qr');
      return !img.hidden && img.complete && img.naturalWidth > 0;
    });
    const link = await page.locator('#jpki-link').getAttribute('href');
    const session = (await page.locator('#jpki-session').textContent()).trim();
    // The link carries a one-time hand-off token, never the capture key.
    if (!link || !/\/ekyc\/capture#h=[A-Za-z0-9_-]{16,128}$/.test(link) || !session) throw new Error(`hand-off link ${link}, session ${session}`);
    emit({ event: 'step', step: 'jpki' });
    await shot('jpki-handoff');
    if (opt.openHandoff) {
      // The customer opens the link on a second device: that page redeems
      // the token, says to sign with the JPKI app and follows the session.
      const phoneContext = await browser.newContext(phone);
      phoneContext.setDefaultTimeout(timeout);
      phonePage = await phoneContext.newPage();
      phonePage.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.error(`phone console.${m.type()}: ${m.text()}`); });
      phonePage.on('pageerror', (e) => console.error(`phone pageerror: ${e.message}`));
      await phonePage.goto(link);
      await phonePage.waitForSelector('body[data-screen="error"], body[data-screen="jpki"]', { state: 'attached' });
      const body = (await phonePage.locator('#jpki-body').textContent()).trim();
      if (await phonePage.locator('body[data-screen="error"]').count()) {
        throw new Error('hand-off page error: ' + (await phonePage.locator('#error-body').textContent()));
      }
      if (new URL(phonePage.url()).hash !== '') throw new Error('the hand-off token is still in the address bar');
      if (!body.includes('この端末に手続きを引き継ぎました')) throw new Error(`hand-off page says ${JSON.stringify(body)}`);
      if (await phonePage.locator('#jpki-qr').isVisible()) throw new Error('the hand-off page shows a QR code of its own');
      await shot('jpki-phone', phonePage);
      emit({ event: 'handoff-opened' });
      // The first page learns at its next state poll that its link was
      // redeemed: it says so with the time the server recorded (nothing
      // else of the device), drops the spent QR code and link and offers
      // a fresh link.
      await waitScreen('#jpki-used:not([hidden])');
      const used = (await page.locator('#jpki-used').innerText()).trim();
      for (const want of ['この QR コード/リンクは別の端末で使われました。心当たりがなければ中止してください', '使われた時刻', 'どの端末からもこの手続きを続けられなくなります']) {
        if (!used.includes(want)) throw new Error(`the used-link notice says ${JSON.stringify(used)}, want ${JSON.stringify(want)}`);
      }
      if (await page.locator('#jpki-qr').isVisible() || await page.locator('#jpki-link').isVisible()) throw new Error('the page still shows the spent QR code or link');
      if (!(await page.locator('#btn-handoff-new').isVisible())) throw new Error('the used-link notice has no button for a fresh link');
      await shot('jpki-used');
      emit({ event: 'handoff-used', at: await page.locator('#jpki-used').getAttribute('data-redeemed-at') });
      if (opt.cancelOnUse) {
        // The customer does not know the device that used the link: they
        // cancel. The page says so only after the server did; the device
        // that redeemed the link can no longer go on.
        if (!(await page.locator('#btn-cancel').isVisible())) throw new Error('the used-link notice has no cancel button');
        await page.click('#btn-cancel');
        await waitScreen('body[data-screen="done"][data-outcome="cancelled"]');
        await shot('cancelled');
        emit({ event: 'cancelled', title: (await page.locator('#done-title').textContent()).trim(), progress: await progress(page) });
        await phonePage.waitForSelector('body[data-screen="error"]', { state: 'attached' });
        await shot('phone-cancelled', phonePage);
        emit({ event: 'phone-stopped', body: (await phonePage.locator('#error-body').textContent()).trim(), progress: await progress(phonePage) });
        throw new Finished();
      }
      // A fresh link replaces the notice with a new QR code and link.
      await page.click('#btn-handoff-new');
      await page.waitForFunction((old) => {
        const img = document.getElementById('jpki-qr');
        const a = document.getElementById('jpki-link');
        return document.getElementById('jpki-used').hidden && !img.hidden && img.complete && img.naturalWidth > 0 &&
          !a.hidden && a.getAttribute('href') !== old && /#h=[A-Za-z0-9_-]{16,128}$/.test(a.getAttribute('href') || '');
      }, link);
      await shot('jpki-fresh');
      emit({ event: 'handoff-fresh' });
    }
    handoffLink = link;
    emit({ event: 'handoff', link, session });
  } else if (opt.method === 'he') {
    await waitScreen('body[data-step="chip"]');
    emit({ event: 'step', step: 'chip' });
    await shot('chip');
    await page.click('#btn-chip-next');
  } else {
    for (const step of ['doc_front', 'doc_back', 'doc_tilt']) {
      await waitScreen(`body[data-step="${step}"]`);
      emit({ event: 'step', step });
      await page.waitForSelector('#btn-capture:not([hidden]):not([disabled])');
      await shot(step);
      await page.click('#btn-capture');
      await page.waitForSelector('#btn-use:not([hidden])');
      await shot(step + '-preview');
      await page.click('#btn-use');
    }
  }

  if (opt.method !== 'wa') {
  await waitScreen('body[data-step="selfie"]');
  emit({ event: 'step', step: 'selfie' });
  await page.waitForSelector('#btn-capture:not([hidden]):not([disabled])');
  await shot('selfie');
  await page.click('#btn-capture');
  // One screenshot per challenge step while the instruction is shown.
  const seen = new Set();
  for (;;) {
    const h = await page.waitForFunction(() => {
      const b = document.body.dataset;
      if (b.screen === 'error' || b.step === 'send') return 'end';
      return b.challenge && document.getElementById('instruction').textContent ? b.challenge : null;
    }, null, { polling: 50 });
    const v = await h.jsonValue();
    if (v === 'end') break;
    if (!seen.has(v)) {
      seen.add(v);
      emit({ event: 'challenge', step: v });
      await shot('challenge-' + v);
    }
    await page.waitForFunction((c) => {
      const b = document.body.dataset;
      return b.challenge !== c || b.screen === 'error' || b.step === 'send';
    }, v, { polling: 50 });
  }
  await waitScreen('body[data-step="send"]');
  emit({ event: 'step', step: 'send' });
  await shot('sending');
  }
  // The result screen once the server recorded a decision (a session
  // still submitted shows "received", also final for the page).
  await waitScreen('body[data-screen="done"]:not([data-outcome="submitted"])');
  await shot('done');
  emit({
    event: 'done',
    outcome: await page.evaluate(() => document.body.dataset.outcome),
    title: (await page.locator('#done-title').textContent()).trim(),
    body: (await page.locator('#done-body').textContent()).trim(),
    progress: await progress(page),
  });
  const stored = await page.evaluate(() => localStorage.length + sessionStorage.length);
  if (stored !== 0) throw new Error(`the page left ${stored} items in web storage`);
  if (phonePage) {
    await phonePage.waitForSelector('body[data-screen="done"]:not([data-outcome="submitted"])', { state: 'attached' });
    await shot('phone-done', phonePage);
    emit({ event: 'phone-done', outcome: await phonePage.evaluate(() => document.body.dataset.outcome), progress: await progress(phonePage) });
  }
  if (handoffLink) {
    // The hand-off link was redeemed (by the second page or the app): it
    // is refused when opened again.
    await page.goto('about:blank');
    await page.goto(handoffLink);
    await page.waitForSelector('body[data-screen="error"]', { state: 'attached' });
    const text = await page.locator('#error-body').textContent();
    if (!text.includes('すでに使用されています')) throw new Error(`handoff-reused: error text ${JSON.stringify(text)}`);
    await shot('error-handoff-reused');
    emit({ event: 'refused', step: 'handoff-reused' });
  }
  // Failure paths: the link is single-use, and a link without its token
  // is refused before anything is sent.
  for (const [name, url, want] of [
    ['reused', opt.url, { ja: 'すでに使用されています', en: 'already used' }],
    ['no-token', opt.url.split('#')[0], { ja: 'リンクが正しくありません', en: 'link is incomplete' }],
  ]) {
    await page.goto('about:blank');
    await page.goto(url);
    await page.waitForSelector('body[data-screen="error"]', { state: 'attached' });
    const text = await page.locator('#error-body').textContent();
    if (!text.includes(want.ja) && !text.includes(want.en)) throw new Error(`${name}: error text ${JSON.stringify(text)}`);
    if (await page.locator('#btn-retry').isVisible()) throw new Error(`${name}: offers a retry for a final error`);
    await shot('error-' + name);
    emit({ event: 'refused', step: name });
  }
  emit({ event: 'finished' });
  status = 0;
} catch (e) {
  if (e instanceof Finished) {
    emit({ event: 'finished' });
    status = 0;
  } else {
    console.error(`capture.mjs: ${e.message}`);
  }
} finally {
  await browser.close();
}
process.exit(status);
