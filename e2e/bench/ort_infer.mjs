#!/usr/bin/env node
// ort_infer.mjs MODEL.onnx INPUT.npy OUTDIR
//
// Runs an ONNX model under ONNX Runtime (CPU) on one float32 .npy input
// (fed to the model's first input) and writes every output as
// OUTDIR/<output name>.npy. convert/onnx_test.go uses it to check
// `lcnet export` against nn and the golden outputs.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readNpy, writeNpy } from './npy.mjs';

const [model, input, outDir] = process.argv.slice(2);
if (!model || !input || !outDir) {
  console.error('usage: node ort_infer.mjs MODEL.onnx INPUT.npy OUTDIR');
  process.exit(2);
}

const session = await ort.InferenceSession.create(model, {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  intraOpNumThreads: 2,
  interOpNumThreads: 1,
});
const x = readNpy(input);
const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.shape) };
const results = await session.run(feeds);
mkdirSync(outDir, { recursive: true });
for (const name of session.outputNames) {
  const t = results[name];
  if (t.type !== 'float32') throw new Error(`output ${name} is ${t.type}, want float32`);
  writeNpy(join(outDir, `${name}.npy`), t.dims.map(Number), t.data);
  console.log(`${name} [${t.dims.join(',')}]`);
}
