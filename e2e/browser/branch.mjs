// Drives the branch verifier's page (`madoguchi branch serve`) in headless
// Chromium, as a counter with a camera would. Used by
// cmd/madoguchi/branch_browser_test.go.
//
//   node branch.mjs < input.json
//   input: {"url": "http://127.0.0.1:PORT/", "shots": DIR,
//           "images": {"name": PNG base64, …},
//           "people": {"genuine": {"frontal": name, "turn_left": name, "turn_right": name, "blink": name}, …},
//           "steps": [{"name", "qr": image name, "person": people key (optional)}
//                     | {"name", "post_status": base64 signed status list}]}
//   output: one JSON line per step: {"name", "accepted", "reasons", "steps"}
//           or {"name", "http_status", "title"}; then {"event": "done",
//           "online": …, "blocked": [URLs the page tried to reach elsewhere]}.
//
// The camera is a canvas stream that replaces getUserMedia: it shows the
// customer's QR code, then — once the verifier has drawn its challenge —
// the customer's face performing the steps in the order asked (each posed
// frame is shown in turn as the page films), as a person at the counter
// would. Chromium's file-backed fake camera cannot follow a random
// challenge, so the frames are injected; everything after the camera (the
// page, its requests, the verifier, the face engine) is real. The page has
// no network path beyond its own loopback origin: every other request is
// aborted and reported.
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const opt = JSON.parse(readFileSync(0, 'utf8'));
if (!opt.url || !opt.shots) {
  console.error('branch.mjs: need url and shots');
  process.exit(2);
}
mkdirSync(opt.shots, { recursive: true });
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const browser = await chromium.launch({
  executablePath: opt.chromium || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-default-apps', '--no-first-run', '--disable-dev-shm-usage', '--lang=ja-JP'],
});
let status = 1;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ja-JP' });
  context.setDefaultTimeout(opt.timeoutMs || 240000);
  const origin = new URL(opt.url).origin;
  const blocked = [];
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (new URL(u).origin === origin) return route.continue();
    blocked.push(u);
    return route.abort('internetdisconnected');
  });
  await context.addInitScript(() => {
    const W = 960, H = 720, FACE_FRAMES = 30; // FACE_FRAMES: branch.js films 30 frames
    const canvas = document.createElement('canvas');
    canvas.width = W; canvas.height = H;
    const g = canvas.getContext('2d');
    const images = {};
    let current = null, schedule = [], sent = 0;
    const draw = () => {
      g.fillStyle = '#7f7f7f';
      g.fillRect(0, 0, W, H);
      const im = current && images[current];
      if (!im) return;
      if (current.startsWith('qr:')) { // a phone screen held flat: the code fills most of the frame
        const s = Math.min(W, H) - 40;
        g.imageSmoothingEnabled = false;
        g.fillStyle = '#fff';
        g.fillRect((W - s) / 2 - 10, (H - s) / 2 - 10, s + 20, s + 20);
        g.drawImage(im, (W - s) / 2, (H - s) / 2, s, s);
      } else { // the face at the camera's native scale
        g.imageSmoothingEnabled = true;
        g.drawImage(im, (W - im.width) / 2, (H - im.height) / 2);
      }
    };
    setInterval(draw, 50); // keep frames flowing into the stream
    window.__cam = {
      person: null,
      empty: 0, // /api/scan answers with no code in the frame
      steps: '',
      async load(name, b64) {
        const bin = atob(b64);
        const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        images[name] = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
      },
      show(name) { current = name; schedule = []; window.__cam.steps = ''; draw(); },
      // The challenge: frontal, then each step followed by frontal, spread
      // over the frames the page takes.
      startFace(steps) {
        const p = window.__cam.person;
        if (!p) return;
        window.__cam.steps = steps.join(',');
        schedule = [p.frontal, p.frontal];
        for (const s of steps) schedule.push(p[s], p.frontal);
        sent = 0;
        current = schedule[0];
        draw();
      },
      frameSent() {
        sent++;
        if (schedule.length) { current = schedule[Math.min(schedule.length - 1, Math.floor(sent * schedule.length / FACE_FRAMES))]; draw(); }
      },
    };
    const stream = canvas.captureStream(20);
    navigator.mediaDevices.getUserMedia = async () => stream;
    // Observe (not change) the page's calls to its verifier, to pose the
    // face as the challenge asks and move on as each frame is taken.
    const realFetch = window.fetch.bind(window);
    window.fetch = async (input, init) => {
      const path = typeof input === 'string' ? input : input.url;
      if (path === '/api/frame') window.__cam.frameSent();
      const resp = await realFetch(input, init);
      if (path === '/api/scan') {
        const j = await resp.clone().json().catch(() => null);
        if (j && j.found && j.scan) window.__cam.startFace(j.scan.steps);
        if (j && !j.found && !j.held) window.__cam.empty++;
      }
      return resp;
    };
  });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.error(`console.error: ${m.text()}`); });
  page.on('pageerror', (e) => console.error(`pageerror: ${e.message}`));
  let n = 0;
  const shot = async (name) => { await page.screenshot({ path: join(opt.shots, `${String(++n).padStart(2, '0')}-branch-${name}.png`) }); };

  await page.goto(opt.url);
  for (const [name, b64] of Object.entries(opt.images)) {
    await page.evaluate(([nm, b]) => window.__cam.load(nm, b), [name, b64]);
  }
  await page.waitForFunction(() => document.getElementById('status').dataset.ready === 'true');
  await shot('ready');

  for (const st of opt.steps) {
    if (st.post_status) {
      const r = await page.evaluate(async (b64) => {
        const bin = atob(b64);
        const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        const resp = await fetch('/api/status-list', { method: 'POST', body: bytes });
        const j = await resp.json();
        return { http_status: resp.status, title: j.title || '' };
      }, st.post_status);
      emit({ name: st.name, ...r });
      continue;
    }
    await page.evaluate(([qr, person]) => { window.__cam.person = person; window.__cam.show(qr); },
      ['qr:' + st.qr, st.person ? opt.people[st.person] : null]);
    await page.waitForFunction(() => ['true', 'false'].includes(document.getElementById('result').dataset.accepted));
    const out = await page.evaluate(() => ({
      accepted: document.getElementById('result').dataset.accepted === 'true',
      reasons: [...document.querySelectorAll('#reasons li')].map((li) => li.textContent),
      steps: window.__cam.steps,
    }));
    await shot(st.name.replace(/[^a-z0-9]+/gi, '-'));
    emit({ name: st.name, ...out });
    await page.evaluate(() => window.__cam.show(null));
    await page.click('#again');
    // The verifier reads a code again only after a frame without it (the
    // phone taken away): wait until the page has sent it one.
    const seen = await page.evaluate(() => window.__cam.empty);
    await page.waitForFunction((n) => window.__cam.empty > n, seen);
  }
  const online = await page.evaluate(() => document.getElementById('status').dataset.online);
  emit({ event: 'done', online, blocked });
  status = 0;
} catch (e) {
  console.error(e && e.stack ? e.stack : String(e));
} finally {
  await browser.close();
  process.exit(status);
}
