// Minimal .npy reader/writer for little-endian float32 arrays in C order,
// the format of lcnet's fixtures and of `lcnet infer` tensors.
import { readFileSync, writeFileSync } from 'node:fs';

const MAGIC = '\x93NUMPY';

export function readNpy(path) {
  const buf = readFileSync(path);
  if (buf.toString('latin1', 0, 6) !== MAGIC) {
    throw new Error(`${path}: not a .npy file (bad magic)`);
  }
  const major = buf[6];
  let hlen, off;
  if (major === 1) {
    hlen = buf.readUInt16LE(8);
    off = 10;
  } else if (major === 2 || major === 3) {
    hlen = buf.readUInt32LE(8);
    off = 12;
  } else {
    throw new Error(`${path}: unsupported .npy version ${major}`);
  }
  const header = buf.toString('latin1', off, off + hlen);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeStr = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr !== '<f4') throw new Error(`${path}: dtype ${descr}, want <f4`);
  if (fortran !== 'False') throw new Error(`${path}: Fortran order is not supported`);
  if (shapeStr === undefined) throw new Error(`${path}: header has no shape`);
  const shape = shapeStr.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const start = off + hlen;
  if (buf.length - start < 4 * n) {
    throw new Error(`${path}: shape [${shape}] needs ${4 * n} data bytes, file has ${buf.length - start}`);
  }
  // Copy: the file buffer's offset need not be 4-byte aligned.
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = buf.readFloatLE(start + 4 * i);
  return { shape, data };
}

export function writeNpy(path, shape, data) {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // Pad so that magic + version + length + header + '\n' is a multiple of 64.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = Buffer.alloc(10 + header.length + 4 * data.length);
  out.write(MAGIC, 0, 'latin1');
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  const base = 10 + header.length;
  for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i], base + 4 * i);
  writeFileSync(path, out);
}
