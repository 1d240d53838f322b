// Shared pieces of the browser scripts (portal.mjs, portal-admin.mjs,
// portal-audit.mjs, portal-partner.mjs, review.mjs, consent.mjs): TOTP codes for the staff
// sign-in, the check/Failure convention, Chromium's launch, axe-core's
// source and the page kit (pages, screenshots, axe).

import { chromium } from 'playwright-core';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const base32 = (s) => {
  const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, val = 0;
  const out = [];
  for (const c of s.replace(/=+$/, '').toUpperCase()) {
    val = (val << 5) | alpha.indexOf(c);
    bits += 5;
    if (bits >= 8) { out.push((val >>> (bits - 8)) & 255); bits -= 8; }
  }
  return Buffer.from(out);
};

// totpAt is the RFC 6238 code (SHA-1, 6 digits, 30 s) of a base32 secret
// at a time step.
export const totpAt = (secret, step) => {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const h = createHmac('sha1', base32(secret)).update(msg).digest();
  const off = h[h.length - 1] & 15;
  return String((h.readUInt32BE(off) & 0x7fffffff) % 1e6).padStart(6, '0');
};

// totp is the code of the current time step.
export const totp = (secret) => totpAt(secret, Math.floor(Date.now() / 30000));

export class Failure extends Error {}

// axeChecker returns axe(page, name): axe-core run in page through
// DevTools evaluation (the pages' CSP forbids injected scripts, and stays
// on), its violations reported as {"event":"axe",page,violations} through
// emit, and a check that none is serious or critical.
export const axeChecker = (emit, check) => async (page, name) => {
  const res = await page.evaluate(async (src) => {
    if (!window.axe) (0, eval)(src);
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
  }, axeSource);
  const bad = res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  emit({ event: 'axe', page: name, violations: res });
  check(`axe ${name}`, bad.length === 0, JSON.stringify(bad));
};

// checker returns check(name, ok, detail): throws a Failure naming the
// check when ok is false, else reports it through emit.
export const checker = (emit) => (name, ok, detail) => {
  if (!ok) throw new Failure(`${name}: ${detail ?? 'assertion failed'}`);
  emit({ event: 'check', name });
};

// launch starts Debian's headless Chromium (opt.chromium overrides the path).
export const launch = (opt) => chromium.launch({
  executablePath: opt.chromium || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-default-apps', '--no-first-run', '--disable-dev-shm-usage', '--lang=ja-JP'],
});

// pageKit holds what every portal script does with its pages:
//   - newPage() opens a page in a fresh context (Japanese, the viewport
//     and default timeout given); console errors and Content Security
//     Policy violations are collected in problems, except the HTTP error
//     statuses the script provokes on purpose (expectedStatus, matched
//     against the console text);
//   - shot(page, name) takes a numbered full-page screenshot into
//     opt.shots, named after prefix;
//   - axe(page, name) is axeChecker's.
export const pageKit = ({ browser, opt, emit, check, problems, prefix,
  viewport = { width: 1280, height: 900 }, timeout = 20000, expectedStatus = /status of 40[134]/, contextOptions = {}, code = totp }) => {
  let n = 0;
  const newPage = async () => {
    const context = await browser.newContext({ viewport, locale: 'ja-JP', ...contextOptions });
    context.setDefaultTimeout(timeout);
    const page = await context.newPage();
    page.on('console', (m) => {
      const t = m.text();
      if (m.type() === 'error' && !expectedStatus.test(t)) problems.push(`console: ${t}`);
      if (/Content Security Policy/i.test(t)) problems.push(`CSP violation: ${t}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    return { context, page };
  };
  const shot = async (page, name) => {
    const file = join(opt.shots, `${prefix}-${String(++n).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    emit({ event: 'screenshot', file });
  };
  // submit clicks sel and waits for the navigation it starts.
  const submit = async (page, sel) => {
    const [resp] = await Promise.all([page.waitForNavigation(), page.click(sel)]);
    return resp;
  };
  // signIn signs acc in on the portal at base (password and the TOTP
  // code that code gives for acc's secret).
  const signIn = async (page, acc, base = opt.url) => {
    await page.goto(base + '/portal/login');
    await page.fill('#username', acc.username);
    await page.fill('#password', acc.password);
    await page.fill('#code', await code(acc.secret));
    await submit(page, '#signin');
    check(`sign in as ${acc.username}`, new URL(page.url()).pathname === '/portal/', page.url());
  };
  return { newPage, shot, axe: axeChecker(emit, check), submit, signIn };
};
