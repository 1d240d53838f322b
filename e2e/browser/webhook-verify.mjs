// Verifies Madoguchi webhook signatures with an independent RFC 9421
// implementation (the http-message-signatures package), for
// notify/rfc9421_node_test.go. Reads JSON lines {jwks, method, url, headers,
// body} on stdin; prints one line per request: "ok <keyid>" or "fail <reason>".
import { httpbis, createVerifier } from 'http-message-signatures';
import { createHash, createPublicKey } from 'node:crypto';
import { createInterface } from 'node:readline';

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  const m = JSON.parse(line);
  try {
    const digest = 'sha-256=:' + createHash('sha256').update(Buffer.from(m.body, 'base64')).digest('base64') + ':';
    if (m.headers['content-digest'] !== digest) throw new Error('content-digest mismatch');
    const keys = new Map(m.jwks.keys.map((k) => [k.kid, createPublicKey({ key: k, format: 'jwk' })]));
    let used = '';
    const ok = await httpbis.verifyMessage({
      keyLookup: async (params) => {
        const key = keys.get(params.keyid);
        if (!key) return null;
        used = params.keyid;
        return { id: params.keyid, algs: ['ed25519'], verify: createVerifier(key, 'ed25519') };
      },
      requiredParams: ['created', 'keyid', 'alg', 'tag'],
      requiredFields: ['@method', '@target-uri', 'content-digest', 'content-type'],
      maxAge: 300,
      notAfter: undefined,
    }, { method: m.method, url: m.url, headers: m.headers });
    console.log(ok ? 'ok ' + used : 'fail not verified');
  } catch (e) {
    console.log('fail ' + String(e.message || e).replace(/\s+/g, ' '));
  }
}
