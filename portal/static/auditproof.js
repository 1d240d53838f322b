// Verifies a Madoguchi audit proof bundle without trusting the server that
// sent it: the entry's canonical leaf, its RFC 9162 inclusion proof and the
// C2SP signed checkpoint, in the C2SP tlog-proof format that
// 'madoguchi audit verify --proof' reads (package audit, prooffile.go):
//
//   c2sp.org/tlog-proof@v1
//   extra <base64 leaf>
//   index <N>
//   <base64 hash>...            (the audit path, leaf's sibling first)
//
//   <signed checkpoint>         (origin, size, base64 root; "— name sig" lines)
//
// against a C2SP signed-note verifier key ("name+hash+base64(0x01||key)").
// Hashing is SHA-256 with RFC 9162's 0x00 (leaf) and 0x01 (node) prefixes;
// the checkpoint's signature is Ed25519, both through WebCrypto
// (crypto.subtle), so the same module runs in the browser (static/audit.js)
// and under Node for the golden vectors the Go tests write
// (portal/testdata/auditproof-vectors.json). No DOM here.

const enc = new TextEncoder();
const utf8 = new TextDecoder('utf-8', { fatal: true });

const PROOF_HEADER = 'c2sp.org/tlog-proof@v1';
const MAX_BUNDLE = 64 << 10; // audit.MaxProofFileLen
const MAX_PROOF_HASHES = 128; // audit.MaxProofHashes
const SIG_PREFIX = '\u2014 '; // "— "

// The verification steps, in order; a failed step stops the rest.
export const STEPS = ['key', 'signature', 'checkpoint', 'leaf', 'match', 'inclusion'];

class StepError extends Error {
  constructor(step, message, unsupported = false) {
    super(message);
    this.step = step;
    this.unsupported = unsupported;
  }
}

function fail(step, message) {
  throw new StepError(step, message);
}

// b64 decodes strict standard base64 (padded, canonical), or fails step.
export function b64(step, s) {
  if (typeof s !== 'string' || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) fail(step, 'not base64');
  let bin;
  try {
    bin = atob(s);
  } catch {
    fail(step, 'not base64');
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  if (toB64(out) !== s) fail(step, 'not canonical base64');
  return out;
}

export function toB64(u8) {
  let bin = '';
  for (const b of u8) bin += String.fromCharCode(b);
  return btoa(bin);
}

const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

async function sha256(subtle, ...parts) {
  return new Uint8Array(await subtle.digest('SHA-256', concat(...parts)));
}

// RFC 9162 hashes.
export const leafHash = (subtle, leaf) => sha256(subtle, Uint8Array.of(0), leaf);
const nodeHash = (subtle, l, r) => sha256(subtle, Uint8Array.of(1), l, r);

// canonical decimal (no sign, no leading zeros) below 2^63, as a BigInt.
function decimal(step, s) {
  if (!/^(0|[1-9][0-9]{0,18})$/.test(s)) fail(step, 'not a canonical decimal');
  const n = BigInt(s);
  if (n >= 1n << 63n) fail(step, 'number too large');
  return n;
}

// A note name: non-empty, no '+', no white space (golang.org/x/mod/sumdb/note).
const validName = (s) => s.length > 0 && !s.includes('+') && !/\s/u.test(s);

// parseVerifierKey parses "name+hash+base64(alg||key)" and checks the key
// hash: the first four bytes of SHA-256(name "\n" alg||key).
export async function parseVerifierKey(subtle, vkey) {
  vkey = String(vkey).trim();
  const i = vkey.indexOf('+');
  const j = vkey.indexOf('+', i + 1);
  if (i < 0 || j < 0) fail('key', 'not name+hash+key');
  const name = vkey.slice(0, i);
  const hashHex = vkey.slice(i + 1, j);
  if (!validName(name) || !/^[0-9a-f]{8}$/.test(hashHex)) fail('key', 'bad name or key hash');
  const key = b64('key', vkey.slice(j + 1));
  if (key.length !== 33 || key[0] !== 1) fail('key', 'not an Ed25519 key');
  const h = await sha256(subtle, enc.encode(name + '\n'), key);
  const want = parseInt(hashHex, 16) >>> 0;
  const got = ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
  if (got !== want) fail('key', 'key hash does not match the key');
  return { name, hash: want, pub: key.slice(1) };
}

// openNote splits a signed note into its text and signature lines.
function openNote(step, bytes) {
  let msg;
  try {
    msg = utf8.decode(bytes);
  } catch {
    fail(step, 'note is not UTF-8');
  }
  const split = msg.lastIndexOf('\n\n');
  if (split < 0) fail(step, 'note has no signature block');
  const text = msg.slice(0, split + 1);
  let sigs = msg.slice(split + 2);
  if (sigs.length === 0 || !sigs.endsWith('\n')) fail(step, 'malformed signature block');
  const lines = [];
  while (sigs.length > 0) {
    const k = sigs.indexOf('\n');
    let line = sigs.slice(0, k);
    sigs = sigs.slice(k + 1);
    if (!line.startsWith(SIG_PREFIX)) fail(step, 'malformed signature line');
    line = line.slice(SIG_PREFIX.length);
    const sp = line.indexOf(' ');
    if (sp < 0) fail(step, 'malformed signature line');
    const name = line.slice(0, sp);
    const sig = b64(step, line.slice(sp + 1));
    if (!validName(name) || sig.length < 5) fail(step, 'malformed signature line');
    const hash = ((sig[0] << 24) | (sig[1] << 16) | (sig[2] << 8) | sig[3]) >>> 0;
    lines.push({ name, hash, sig: sig.slice(4) });
  }
  return { text, lines };
}

// parseCheckpoint parses a C2SP tlog-checkpoint body.
export function parseCheckpoint(text) {
  if (!text.endsWith('\n')) fail('checkpoint', 'checkpoint does not end in a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3 || lines.some((l) => l === '')) fail('checkpoint', 'malformed checkpoint');
  const [origin, size, root] = lines;
  if (/\s/u.test(origin)) fail('checkpoint', 'origin contains a space');
  const r = b64('checkpoint', root);
  if (r.length !== 32) fail('checkpoint', 'root is not 32 bytes');
  return { origin, size: decimal('checkpoint', size), root: r, rootB64: root };
}

// parseBundle parses the tlog-proof syntax (audit.ParseInclusionProof).
export function parseBundle(bytes) {
  if (bytes.length > MAX_BUNDLE) fail('leaf', 'bundle too large');
  let s;
  try {
    s = utf8.decode(bytes);
  } catch {
    fail('leaf', 'bundle is not UTF-8');
  }
  const cut = s.indexOf('\n\n');
  if (cut < 0 || cut + 2 >= s.length) fail('leaf', 'no checkpoint after the proof lines');
  let lines = s.slice(0, cut).split('\n');
  const checkpoint = bytes.slice(enc.encode(s.slice(0, cut + 2)).length);
  if (lines[0] !== PROOF_HEADER) fail('leaf', 'not a tlog-proof');
  lines = lines.slice(1);
  let leaf = null;
  if (lines.length > 0 && lines[0].startsWith('extra ')) {
    leaf = b64('leaf', lines[0].slice(6));
    if (leaf.length === 0) fail('leaf', 'empty extra line');
    lines = lines.slice(1);
  }
  if (leaf === null) fail('leaf', 'the bundle carries no entry');
  if (lines.length === 0 || !lines[0].startsWith('index ')) fail('inclusion', 'no index line');
  const index = decimal('inclusion', lines[0].slice(6));
  const hashes = lines.slice(1);
  if (hashes.length > MAX_PROOF_HASHES) fail('inclusion', 'too many proof hashes');
  const proof = hashes.map((h) => {
    const b = b64('inclusion', h);
    if (b.length !== 32) fail('inclusion', 'proof hash is not 32 bytes');
    return b;
  });
  return { leaf, index, proof, checkpoint };
}

// decodeLeaf decodes a version 1 canonical leaf (audit.MarshalLeaf).
export function decodeLeaf(leaf) {
  let o = 0;
  const need = (n) => {
    if (o + n > leaf.length) fail('leaf', 'truncated entry');
  };
  need(9);
  if (leaf[0] !== 1) fail('leaf', 'not a version 1 entry');
  const view = new DataView(leaf.buffer, leaf.byteOffset, leaf.byteLength);
  const timeUS = view.getBigInt64(1);
  o = 9;
  const str = () => {
    need(2);
    const n = view.getUint16(o);
    o += 2;
    need(n);
    let v;
    try {
      v = utf8.decode(leaf.subarray(o, o + n));
    } catch {
      fail('leaf', 'a field is not UTF-8');
    }
    o += n;
    return v;
  };
  const e = {};
  for (const f of ['actor_kind', 'actor_id', 'tenant_id', 'action', 'object', 'request_id', 'outcome']) e[f] = str();
  need(1);
  const count = leaf[o++];
  const details = {};
  let prev = null;
  for (let i = 0; i < count; i++) {
    const k = str();
    const v = str();
    if (!/^[a-z][a-z0-9._-]{0,63}$/.test(k) || (prev !== null && k <= prev)) fail('leaf', 'details keys not strictly ascending');
    prev = k;
    details[k] = v;
  }
  if (o !== leaf.length) fail('leaf', 'trailing bytes after the entry');
  if (!['client', 'staff', 'system', 'customer'].includes(e.actor_kind) || !['ok', 'denied', 'failed'].includes(e.outcome)) {
    fail('leaf', 'not a valid entry');
  }
  e.time_us = timeUS.toString();
  e.details = details;
  return e;
}

// rootFromProof computes the root of a tree of size from the leaf hash at
// index and its audit path (RFC 9162 section 2.1.3.2).
export async function rootFromProof(subtle, index, size, hash, proof) {
  if (index >= size) fail('inclusion', 'index is not in the tree');
  let fn = index;
  let sn = size - 1n;
  let r = hash;
  for (const p of proof) {
    if (sn === 0n) fail('inclusion', 'proof too long');
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(subtle, p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(subtle, r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) fail('inclusion', 'proof too short');
  return r;
}

function sameEntry(a, b) {
  const keys = ['index', 'time_us', 'actor_kind', 'actor_id', 'tenant_id', 'action', 'object', 'request_id', 'outcome'];
  if (keys.some((k) => String(a[k]) !== String(b[k]))) return false;
  const da = Object.keys(a.details || {}).sort();
  const db = Object.keys(b.details || {}).sort();
  return da.length === db.length && da.every((k, i) => k === db[i] && a.details[k] === b.details[k]);
}

// verifyBundle checks a bundle (string or bytes) against vkey. With
// opts.expect (the entry a page shows: index, time_us, actor_kind, …,
// details), the leaf must also decode to exactly that. It never throws:
// the result says which steps held and, for a failure, which step failed
// and why.
export async function verifyBundle(bundle, vkey, opts = {}) {
  const subtle = opts.subtle || globalThis.crypto.subtle;
  const steps = Object.fromEntries(STEPS.map((s) => [s, 'skip']));
  if (!opts.expect) delete steps.match;
  const res = { ok: false, steps, entry: null, index: null, checkpoint: null, failedStep: null, reason: '', unsupported: false };
  let step = 'key';
  try {
    const key = await parseVerifierKey(subtle, vkey);
    steps.key = 'ok';

    step = 'signature';
    const b = typeof bundle === 'string' ? enc.encode(bundle) : new Uint8Array(bundle);
    const p = parseBundle(b);
    const note = openNote('signature', p.checkpoint);
    const mine = note.lines.filter((l) => l.name === key.name && l.hash === key.hash);
    if (mine.length === 0) fail('signature', 'no signature by this key');
    let pub;
    try {
      pub = await subtle.importKey('raw', key.pub, { name: 'Ed25519' }, false, ['verify']);
    } catch (e) {
      throw new StepError('signature', `Ed25519 is not available: ${e && e.name}`, true);
    }
    for (const l of mine) {
      if (l.sig.length !== 64 || !(await subtle.verify({ name: 'Ed25519' }, pub, l.sig, enc.encode(note.text)))) {
        fail('signature', 'signature does not verify');
      }
    }
    steps.signature = 'ok';

    step = 'checkpoint';
    const cp = parseCheckpoint(note.text);
    if (cp.origin !== key.name) fail('checkpoint', "origin is not the key's name");
    res.checkpoint = { origin: cp.origin, size: cp.size.toString(), root: cp.rootB64 };
    steps.checkpoint = 'ok';

    step = 'leaf';
    const entry = decodeLeaf(p.leaf);
    entry.index = p.index.toString();
    res.entry = entry;
    res.index = p.index.toString();
    steps.leaf = 'ok';

    if (opts.expect) {
      step = 'match';
      if (!sameEntry(entry, opts.expect)) fail('match', 'the entry is not the one this page shows');
      steps.match = 'ok';
    }

    step = 'inclusion';
    const root = await rootFromProof(subtle, p.index, cp.size, await leafHash(subtle, p.leaf), p.proof);
    if (!equal(root, cp.root)) fail('inclusion', "the proof does not reach the checkpoint's root");
    steps.inclusion = 'ok';
    res.ok = true;
  } catch (e) {
    const s = e instanceof StepError ? e.step : step;
    steps[s] = 'failed';
    res.failedStep = s;
    res.reason = e instanceof StepError ? e.message : String((e && e.message) || e);
    res.unsupported = e instanceof StepError && e.unsupported;
  }
  return res;
}
