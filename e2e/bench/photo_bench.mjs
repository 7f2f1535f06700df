#!/usr/bin/env node
// photo_bench.mjs (--onnx FILE.onnx | --server URL --model NAME [--decode exact|fast])
//                 [--threads 2] [--duration 5] [--warmup 1] IMAGE...
//
// Times the whole path from JPEG bytes in memory to class probabilities,
// one image at a time, for each IMAGE in turn (--duration seconds split
// between them, at least 5 runs each, after a warm-up of at least 2), and
// prints one JSON object per image: nearest-rank p50/p90/p99 and mean in
// ms, images per second and the top-1 class of the last run.
//
// --onnx: in process, sharp (libvips, shrink-on-load; EXIF rotation, the
// short side resized to 256, a centered 224x224 crop, RGB) then ImageNet
// normalization into NCHW float32 and onnxruntime-node, both limited to
// --threads threads.
// --server: the raw image/jpeg body POSTed to a running lcnet serve's
// /v1/models/NAME/classify?top_k=1 over a kept-alive connection (Node's
// http client).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

function usage(msg) {
  if (msg) console.error(`photo_bench: ${msg}`);
  console.error('usage: node photo_bench.mjs (--onnx FILE | --server URL --model NAME [--decode MODE]) [--threads N] [--duration S] [--warmup S] IMAGE...');
  process.exit(2);
}

let args, files;
try {
  ({ values: args, positionals: files } = parseArgs({
    allowPositionals: true,
    options: {
      onnx: { type: 'string' },
      server: { type: 'string' },
      model: { type: 'string' },
      decode: { type: 'string', default: '' },
      threads: { type: 'string', default: '2' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
    },
  }));
} catch (e) {
  usage(e.message);
}
if (!args.onnx === !args.server) usage('give exactly one of --onnx and --server');
if (args.server && !args.model) usage('--server needs --model');
if (files.length === 0) usage('no IMAGE');
const threads = Number.parseInt(args.threads, 10);
const duration = Number.parseFloat(args.duration);
const warmup = Number.parseFloat(args.warmup);
if (!(threads >= 1)) usage(`--threads must be at least 1, got ${args.threads}`);
if (!(duration > 0)) usage(`--duration must be positive seconds, got ${args.duration}`);
if (!(warmup >= 0)) usage(`--warmup must be seconds >= 0, got ${args.warmup}`);

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];
const SHORT = 256;
const CROP = 224;

// classify(bytes) -> top-1 class id
let classify;
if (args.onnx) {
  const { default: sharp } = await import('sharp');
  const ort = await import('onnxruntime-node');
  sharp.concurrency(threads);
  sharp.cache(false); // every run decodes, as every request would
  const session = await ort.InferenceSession.create(args.onnx, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  const x = new Float32Array(3 * CROP * CROP);
  classify = async (buf) => {
    // fit 'outside' makes the short side SHORT, keeping the aspect ratio;
    // the crop offsets need the resized size, so read the header first.
    const meta = await sharp(buf).metadata();
    let [w, h] = [meta.width, meta.height];
    if ((meta.orientation ?? 1) >= 5) [w, h] = [h, w];
    const s = SHORT / Math.min(w, h);
    const rw = Math.max(SHORT, Math.round(w * s));
    const rh = Math.max(SHORT, Math.round(h * s));
    const { data } = await sharp(buf)
      .rotate()
      .resize(rw, rh, { fit: 'fill' })
      .extract({ left: Math.floor((rw - CROP) / 2), top: Math.floor((rh - CROP) / 2), width: CROP, height: CROP })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    const plane = CROP * CROP;
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) x[c * plane + i] = (data[3 * i + c] / 255 - MEAN[c]) / STD[c];
    }
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, CROP, CROP]) });
    const p = out.probabilities.data;
    let best = 0;
    for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
    return best;
  };
} else {
  const url = new URL(`/v1/models/${encodeURIComponent(args.model)}/classify`, args.server);
  url.searchParams.set('top_k', '1');
  if (args.decode) url.searchParams.set('decode', args.decode);
  // Node's own http client on one kept-alive socket rather than fetch:
  // posting the 4 MB SafeLanding photo (fast, three alternating rounds
  // of 3 s), fetch's p50 was 48-73 ms and this client's 46-49 ms.
  const { request, Agent } = await import(url.protocol === 'https:' ? 'node:https' : 'node:http');
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  classify = (buf) => new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'image/jpeg', 'content-length': buf.length },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        let body;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch (e) {
          reject(new Error(`${res.statusCode}: response is not JSON: ${e.message}`));
          return;
        }
        if (res.statusCode !== 200) reject(new Error(`${res.statusCode}: ${JSON.stringify(body)}`));
        else resolve(body.results[0].predictions[0].class_id);
      });
    });
    req.on('error', reject);
    req.end(buf);
  });
}

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms
const pct = (s, p) => s[Math.max(0, Math.min(s.length - 1, Math.ceil(p * s.length) - 1))];
const per = (duration * 1000) / files.length;
for (const f of files) {
  const buf = readFileSync(f);
  const warmEnd = now() + (warmup * 1000) / files.length;
  for (let i = 0; i < 2 || now() < warmEnd; i++) await classify(buf);
  const lat = [];
  let top1;
  const start = now();
  while (now() - start < per || lat.length < 5) {
    const t0 = now();
    top1 = await classify(buf);
    lat.push(now() - t0);
  }
  const elapsed = now() - start;
  const s = [...lat].sort((a, b) => a - b);
  console.log(JSON.stringify({
    image: basename(f),
    side: args.onnx ? 'sharp+ort' : 'lcnet-http',
    iterations: lat.length,
    p50_ms: pct(s, 0.5),
    p90_ms: pct(s, 0.9),
    p99_ms: pct(s, 0.99),
    mean_ms: lat.reduce((a, b) => a + b, 0) / lat.length,
    images_per_sec: (lat.length * 1000) / elapsed,
    top1,
  }));
}
