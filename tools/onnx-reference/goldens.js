#!/usr/bin/env node
'use strict';

// Goldens for the ONNX models the Go engine runs (face/nn/onnx, face):
// the faceplugin recogniser fr_feature.onnx and liveness fr_liveness.onnx,
// run by onnxruntime-web (WASM, one thread) under Node.
//
// usage: node goldens.js --models <model folder>/faceplugin --images ../../face/testdata/golden/images --out ../../face/testdata/golden/onnx.json
//
// For each model: the output on synth() (reproduced bit for bit by the Go
// tests) and, for the recogniser, on the committed 112x112 ArcFace chip
// PNGs (arcface_chip_*.png) with the package's own preprocessing,
// (x - 127) / 128 in RGB, NCHW. Values are rounded to 7 significant digits.

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-web');
const { PNG } = require('pngjs');

const r = (x) => Number(Number(x).toPrecision(7));

// synth returns a 1x3xHxW float32 NCHW tensor with values in [lo, hi]; the
// same integer pattern as tools/face-reference/goldens.js.
function synth(h, w, lo, hi) {
  const out = new Float32Array(3 * h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) {
    const v = (x * 7 + y * 13 + c * 85 + ((x * y) % 31) * 3) % 256;
    out[c * h * w + y * w + x] = lo + (v / 255) * (hi - lo);
  }
  return out;
}

function chipTensor(file, side, mean, std) {
  const png = PNG.sync.read(fs.readFileSync(file));
  if (png.width !== side || png.height !== side) throw new Error(`${file}: ${png.width}x${png.height}, want ${side}x${side}`);
  const out = new Float32Array(3 * side * side);
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) for (let c = 0; c < 3; c++) {
    out[c * side * side + y * side + x] = (png.data[(y * side + x) * 4 + c] - mean) / std;
  }
  return out;
}

function args(argv) {
  const a = {};
  for (let i = 2; i < argv.length; i += 2) a[argv[i].replace(/^--/, '')] = argv[i + 1];
  if (!a.models || !a.images || !a.out) throw new Error('usage: node goldens.js --models DIR --images DIR --out FILE');
  return a;
}

async function run(sess, data, side) {
  const t = new ort.Tensor('float32', data, [1, 3, side, side]);
  const res = await sess.run({ [sess.inputNames[0]]: t });
  return Array.from(res[sess.outputNames[0]].data, r);
}

async function main() {
  const a = args(process.argv);
  ort.env.wasm.numThreads = 1;
  const out = { runtime: `onnxruntime-web ${ort.env.versions.web} (wasm, 1 thread), node ${process.version}` };
  const feat = await ort.InferenceSession.create(fs.readFileSync(path.join(a.models, 'fr_feature.onnx')));
  out.fr_feature = { synth: await run(feat, synth(112, 112, -1, 1), 112), chips: {} };
  for (const f of fs.readdirSync(a.images).filter((f) => /^arcface_chip_.*\.png$/.test(f)).sort()) {
    out.fr_feature.chips[f] = await run(feat, chipTensor(path.join(a.images, f), 112, 127, 128), 112);
  }
  const live = await ort.InferenceSession.create(fs.readFileSync(path.join(a.models, 'fr_liveness.onnx')));
  out.fr_liveness = { synth: await run(live, synth(128, 128, 0, 255), 128) };
  fs.writeFileSync(a.out, JSON.stringify(out, null, 1) + '\n');
  process.stderr.write(`goldens: wrote ${a.out}\n`);
}

main().catch((e) => { console.error(e); process.exit(1); });
