// Runs the portal's in-browser audit proof verifier (portal/static/
// auditproof.js, passed as a .mjs copy) on the golden vectors the Go audit
// package wrote (portal/testdata/auditproof-vectors.json), with Node's
// WebCrypto. Prints one JSON line per vector; portal/auditproof_test.go
// compares them with the expected verdicts.
//
// Usage: node auditproof-vectors.mjs <auditproof.mjs> <vectors.json>
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [mod, vectors] = process.argv.slice(2);
if (!mod || !vectors) {
  console.error('usage: node auditproof-vectors.mjs <auditproof.mjs> <vectors.json>');
  process.exit(2);
}
const { verifyBundle } = await import(pathToFileURL(mod).href);
for (const v of JSON.parse(readFileSync(vectors, 'utf8'))) {
  const r = await verifyBundle(v.bundle, v.key, v.expect ? { expect: v.expect } : {});
  process.stdout.write(JSON.stringify({ name: v.name, ok: r.ok, failedStep: r.failedStep, reason: r.reason, entry: r.entry, checkpoint: r.checkpoint }) + '\n');
}
