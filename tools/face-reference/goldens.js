#!/usr/bin/env node
'use strict';

// Golden outputs for the Go port (face/nn, face/faceapi, face/human).
//
// usage: node goldens.js --input ../../face/testdata/golden/images --out ../../face/testdata/golden
//
// Writes, rounded to 7 significant digits:
//   pipeline.json : per image, all SSD and TinyFaceDetector (416) detections >= 0.1 and the harness records of both engines (face-api SSD -> 68 landmarks ->
//                   dlib box -> 128-D; human blazeface -> faceres 1024-D + antispoof + liveness).
//   models.json   : every network run alone on a deterministic synthetic input (synth(h, w, lo, hi)
//                   below, reproduced bit for bit by the Go tests), so a kernel error shows up on
//                   its own model instead of only as a drift of the end-to-end numbers.
// Images are PNG so that Go and JS decode identical RGB bytes.

const fs = require('fs');
const path = require('path');
const { tf, initWasm } = require('./lib/tfsetup');
const { decodeFile, toTensor } = require('./lib/image');
const { FaceApiEngine, faceapi } = require('./lib/faceapi-engine');
const { HumanEngine } = require('./lib/human-engine');

const r = (x) => Number(Number(x).toPrecision(7));

// synth returns an h x w x 3 float32 image with values in [lo, hi]: a smooth but
// non-separable pattern; integer-valued in 0..255 before scaling so that Go and JS agree exactly.
function synth(h, w, lo, hi) {
  const out = new Float32Array(h * w * 3);
  let i = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        const v = (x * 7 + y * 13 + c * 85 + ((x * y) % 31) * 3) % 256; // integer 0..255
        out[i++] = lo + (v / 255) * (hi - lo);
      }
    }
  }
  return out;
}

function parseArgs(argv) {
  const a = { input: null, out: null };
  for (let i = 2; i < argv.length; i++) {
    if (argv[i] === '--input') a.input = argv[++i];
    else if (argv[i] === '--out') a.out = argv[++i];
    else throw new Error('unknown argument: ' + argv[i]);
  }
  if (!a.input || !a.out) throw new Error('usage: node goldens.js --input DIR --out DIR');
  return a;
}

async function main() {
  const args = parseArgs(process.argv);
  const env = await initWasm();
  const fa = new FaceApiEngine({ detector: 'ssd' });
  const hu = new HumanEngine({});
  const info = { env, faceapi: await fa.load(), human: await hu.load() };
  const MODEL_DIR = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  await faceapi.nets.tinyFaceDetector.loadFromDisk(MODEL_DIR);
  const tinyOpts = new faceapi.TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold: 0.1 });

  const files = fs.readdirSync(args.input).filter((f) => f.endsWith('.png')).sort();
  const images = [];
  for (const f of files) {
    const img = decodeFile(path.join(args.input, f));
    const t = toTensor(tf, img);
    const a = await fa.run(t, true);
    const h = await hu.run(t, true);
    // all detections (not only the chosen one) for the SSD parity test
    const dets = await faceapi.detectAllFaces(t, new faceapi.SsdMobilenetv1Options({ minConfidence: 0.1, maxResults: 100 }));
    const tiny = await faceapi.detectAllFaces(t, tinyOpts);
    t.dispose();
    images.push({
      file: f, width: img.width, height: img.height,
      ssd: dets.map((d) => ({ score: r(d.score), box: [r(d.box.x), r(d.box.y), r(d.box.width), r(d.box.height)] })),
      tiny: tiny.map((d) => ({ score: r(d.score), box: [r(d.box.x), r(d.box.y), r(d.box.width), r(d.box.height)] })),
      faceapi: a.out, human: h.out,
    });
    process.stderr.write(`goldens: ${f}\n`);
  }

  const models = {};
  const chip = tf.tensor3d(synth(150, 150, 0, 255), [150, 150, 3]);
  models.face_recognition = { input: 'synth(150,150,0,255)', output: Array.from(await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(chip), r) };
  chip.dispose();
  const lmIn = tf.tensor3d(synth(112, 112, 0, 255), [112, 112, 3]);
  const lm = await faceapi.nets.faceLandmark68Net.detectLandmarks(lmIn);
  models.face_landmark_68 = { input: 'synth(112,112,0,255)', output: lm.positions.map((p) => [r(p.x), r(p.y)]) };
  lmIn.dispose();

  const hm = hu.human.models.models;
  const runGraph = (name, h, w, lo, hi) => {
    const x = tf.tensor4d(synth(h, w, lo, hi), [1, h, w, 3]);
    let res = hm[name].execute(x);
    if (!Array.isArray(res)) res = [res];
    const outs = res.map((t) => ({ shape: t.shape, data: Array.from(t.dataSync(), r) }));
    res.forEach((t) => t.dispose());
    x.dispose();
    return { input: `synth(${h},${w},${lo},${hi})`, outputs: outs, outputNames: hm[name].outputs.map((o) => o.name) };
  };
  models.blazeface = runGraph('blazeface', 256, 256, -1, 1);
  models.faceres = runGraph('faceres', 224, 224, 0, 255);
  models.antispoof = runGraph('antispoof', 128, 128, 0, 1);
  models.liveness = runGraph('liveness', 32, 32, 0, 1);

  fs.mkdirSync(args.out, { recursive: true });
  fs.writeFileSync(path.join(args.out, 'pipeline.json'), JSON.stringify({ info, images }) + '\n');
  fs.writeFileSync(path.join(args.out, 'models.json'), JSON.stringify(models) + '\n');
}

main().catch((err) => { console.error(err); process.exit(1); });
