// Independent checks of Madoguchi's offline face credential, run by
// credential/node_test.go. Nothing here shares code with the Go side:
//   jsQR (+ pngjs)  decodes the QR code from the PNG the server renders;
//   base45          decodes the text after the "MDG2:" prefix;
//   cose-js         verifies the COSE_Sign1 (ES256) with the issuer's key;
//   cbor            reads the CWT claims from the verified payload;
//   @hpke/core      opens the HPKE template envelope with the branch key
//                   (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM;
//                   info rebuilt here from the verified claims, aad the
//                   model id the branch runs, after checking that the
//                   claims' model code is SHA-256(model id)[0:4] with
//                   node:crypto).
// stdin: {"cases": [{"name", "png" (base64), "issuer": {"x", "y"} (base64),
// "branch_key" (base64, raw X25519 private key), "model" (the branch
// engine's model id)}]}
// stdout: one JSON line per case: {"name", "stage" (how far it got:
// "decoded", "verified", "opened"), "text", "claims", "template" (base64),
// "error"}.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { PNG } from "pngjs";
import jsQR from "jsqr";
import { Aes128Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";

const require = createRequire(import.meta.url);
const base45 = require("base45");
const cose = require("cose-js");
const cbor = require("cbor");

const b64 = (s) => Buffer.from(s, "base64");
const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes128Gcm() });

async function check(c) {
  const out = { name: c.name, stage: "" };
  try {
    const png = PNG.sync.read(b64(c.png));
    const qr = jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height);
    if (!qr) throw new Error("jsQR found no QR code");
    out.text = qr.data;
    out.qr_version = qr.version;
    if (!qr.data.startsWith("MDG2:")) throw new Error("no MDG2: prefix");
    const msg = Buffer.from(base45.decode(qr.data.slice(5)));
    out.stage = "decoded";

    const payload = await cose.sign.verify(msg, { key: { x: b64(c.issuer.x), y: b64(c.issuer.y) } });
    out.stage = "verified";

    const claims = cbor.decodeFirstSync(payload);
    const get = (k) => claims.get(k);
    out.claims = { iss: get(1), sub: get(2), exp: get(4), iat: get(6), tnt: get("t"), sli: get("s"),
      mdl: Buffer.from(get("m")).toString("base64"), cti: Buffer.from(get(7)).toString("base64") };
    const [keyVersion, enc, ct] = get("f");
    out.claims.key_version = keyVersion;
    const code = createHash("sha256").update(c.model, "utf8").digest().subarray(0, 4);
    if (!code.equals(Buffer.from(get("m")))) throw new Error("model code is not this engine's model");
    const info = Buffer.concat([Buffer.from("madoguchi/credential/template/v1\0" + get("t") + "\0"), Buffer.from(get(7))]);
    const recipientKey = await suite.kem.importKey("raw", b64(c.branch_key), false);
    const pt = await suite.open({ recipientKey, enc: new Uint8Array(enc).buffer, info }, new Uint8Array(ct).buffer,
      Buffer.from(c.model, "utf8"));
    out.template = Buffer.from(pt).toString("base64");
    out.stage = "opened";
  } catch (e) {
    out.error = String(e && e.message ? e.message : e);
  }
  return out;
}

const input = JSON.parse(readFileSync(0, "utf8"));
for (const c of input.cases) {
  process.stdout.write(JSON.stringify(await check(c)) + "\n");
}
