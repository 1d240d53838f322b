// The entry page's "verify in this browser" (templates/audit_entry.html):
// fetches the entry's proof bundle (the same bytes the download link
// gives), verifies it with auditproof.js against the verifier key in the
// form, and shows each step and a verdict. Every word comes from the page
// (data-* attributes rendered from the catalogue); nothing is inline, so
// the CSP stays strict.
import { STEPS, verifyBundle } from './auditproof.js';

const root = document.getElementById('verify');
const button = document.getElementById('verify-run');
const out = document.getElementById('verify-result');
const keyInput = document.getElementById('verifier-key');

const el = (tag, attrs = {}, text = '') => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
};

const stepLabel = (s) => root.dataset['step' + s[0].toUpperCase() + s.slice(1)] || s;

function show(res, note) {
  out.replaceChildren();
  const ok = res && res.ok;
  out.dataset.state = ok ? 'verified' : 'failed';
  out.append(el('p', { class: 'verdict ' + (ok ? 'ok' : 'failed'), id: 'verdict' }, ok ? root.dataset.verified : root.dataset.failed));
  if (note) out.append(el('p', { id: 'verify-note' }, note));
  if (!res) return;
  const list = el('ul', { class: 'steps', id: 'verify-steps' });
  for (const s of STEPS) {
    if (!(s in res.steps)) continue;
    const st = res.steps[s];
    const li = el('li', { class: st === 'ok' ? 'ok' : st === 'failed' ? 'bad' : 'skip', 'data-step': s, 'data-result': st }, stepLabel(s));
    if (st === 'failed' && res.reason) li.append(el('span', { class: 'hint' }, ` (${res.reason})`));
    list.append(li);
  }
  out.append(list);
  if (res.checkpoint) {
    const dl = el('dl', { class: 'facts', id: 'verified-checkpoint' });
    for (const [label, v] of [[root.dataset.labelOrigin, res.checkpoint.origin], [root.dataset.labelSize, res.checkpoint.size], [root.dataset.labelRoot, res.checkpoint.root]]) {
      dl.append(el('dt', {}, label), el('dd', { class: 'id' }, v));
    }
    out.append(dl);
  }
}

async function run() {
  button.disabled = true;
  out.dataset.state = 'running';
  out.replaceChildren(el('p', {}, root.dataset.running));
  try {
    let text;
    try {
      const r = await fetch(root.dataset.proof, { credentials: 'same-origin', cache: 'no-store' });
      if (!r.ok) throw new Error(String(r.status));
      text = new Uint8Array(await r.arrayBuffer());
    } catch {
      show(null, root.dataset.fetchFailed);
      return;
    }
    const expect = JSON.parse(root.dataset.expect);
    const res = await verifyBundle(text, keyInput.value, { expect });
    show(res, res.unsupported ? root.dataset.unsupported : '');
  } finally {
    button.disabled = false;
  }
}

// useKey takes the verifier key from where the operator publishes it
// (data-key-url), if the page names a place, before offering to verify;
// the page's own copy otherwise.
async function useKey() {
  const source = document.getElementById('key-source');
  const embedded = keyInput.value.trim();
  let state = 'embedded';
  if (root.dataset.keyUrl) {
    try {
      const r = await fetch(root.dataset.keyUrl, { credentials: 'omit', cache: 'no-store' });
      const k = r.ok ? (await r.text()).trim() : '';
      if (k && !/\s/.test(k) && k.length < 1024) {
        state = k === embedded ? 'published' : 'differs';
        keyInput.value = k;
      }
    } catch {
      // keep the page's key
    }
  }
  if (source) {
    source.dataset.source = state;
    source.textContent = { published: root.dataset.keyPublished, differs: root.dataset.keyDiffers, embedded: root.dataset.keyEmbedded }[state];
    if (state === 'differs') source.setAttribute('role', 'alert');
  }
}

if (root && button && out && keyInput) {
  useKey().then(() => {
    button.hidden = false;
    button.addEventListener('click', run);
  });
}
