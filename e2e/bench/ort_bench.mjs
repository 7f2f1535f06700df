#!/usr/bin/env node
// ort_bench.mjs --model FILE.onnx [--batch 1] [--threads 2] [--size 224x224]
//               [--duration 10] [--warmup 1] [--json]
//
// Times an ONNX model under ONNX Runtime (CPU) the way `lcnet bench` times
// a zoo model, so side_by_side.sh can put the two next to each other: a
// fixed random batch, a warm-up (at least 2 runs and --warmup seconds),
// then sequential runs for --duration seconds (at least 5), reporting
// nearest-rank p50/p90/p99 and the mean latency per batch in ms and
// images per second over the measured wall time. ORT runs with
// intraOpNumThreads=--threads, interOpNumThreads=1, graphOptimizationLevel
// 'all' and the sequential execution mode.
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';

function usage(msg) {
  if (msg) console.error(`ort_bench: ${msg}`);
  console.error('usage: node ort_bench.mjs --model FILE.onnx [--batch N] [--threads N] [--size HxW] [--duration S] [--warmup S] [--json]');
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      model: { type: 'string' },
      batch: { type: 'string', default: '1' },
      threads: { type: 'string', default: '2' },
      size: { type: 'string', default: '224x224' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
    },
  }));
} catch (e) {
  usage(e.message);
}
if (!args.model) usage('--model is required');
const batch = Number.parseInt(args.batch, 10);
const threads = Number.parseInt(args.threads, 10);
const duration = Number.parseFloat(args.duration);
const warmup = Number.parseFloat(args.warmup);
const m = /^(\d+)(?:x(\d+))?$/i.exec(args.size);
if (!m) usage(`--size ${args.size}: want HxW, e.g. 224x224`);
const height = Number(m[1]);
const width = Number(m[2] ?? m[1]);
if (!(batch >= 1)) usage(`--batch must be at least 1, got ${args.batch}`);
if (!(threads >= 1)) usage(`--threads must be at least 1, got ${args.threads}`);
if (!(duration > 0)) usage(`--duration must be positive seconds, got ${args.duration}`);
if (!(warmup >= 0)) usage(`--warmup must be seconds >= 0, got ${args.warmup}`);

const session = await ort.InferenceSession.create(args.model, {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
});

// A fixed pseudo-random batch (mulberry32, then Box-Muller): every run
// measures the same work, and values look like a normalized image.
let seed = 0x6c636e65;
function rand() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const data = new Float32Array(batch * 3 * height * width);
for (let i = 0; i < data.length; i++) {
  data[i] = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}
const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [batch, 3, height, width]) };

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms
const warmEnd = now() + warmup * 1000;
for (let i = 0; i < 2 || now() < warmEnd; i++) await session.run(feeds);

const lat = [];
const start = now();
while (now() - start < duration * 1000 || lat.length < 5) {
  const t0 = now();
  await session.run(feeds);
  lat.push(now() - t0);
}
const elapsed = now() - start;
const sorted = [...lat].sort((a, b) => a - b);
const pct = (p) => sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1))];
const result = {
  runtime: `onnxruntime-node ${ort.env.versions?.node ?? ''}`.trim(),
  model: args.model,
  batch,
  threads,
  height,
  width,
  iterations: lat.length,
  p50_ms: pct(0.5),
  p90_ms: pct(0.9),
  p99_ms: pct(0.99),
  mean_ms: lat.reduce((a, b) => a + b, 0) / lat.length,
  images_per_sec: (batch * lat.length) / (elapsed / 1000),
};
if (args.json) {
  console.log(JSON.stringify(result));
} else {
  console.log(`${args.model}  batch ${batch}  ${height}x${width}  threads ${threads}  ${result.runtime}`);
  console.log(`latency per batch  p50 ${result.p50_ms.toFixed(2)} ms  p90 ${result.p90_ms.toFixed(2)} ms  p99 ${result.p99_ms.toFixed(2)} ms  mean ${result.mean_ms.toFixed(2)} ms  (${result.iterations} runs)`);
  console.log(`throughput  ${result.images_per_sec.toFixed(1)} images/s`);
}
