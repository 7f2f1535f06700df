// Dredd hooks for lcnet's contract test (contract_test.go starts the
// server and sets the LCNET_CONTRACT_* variables). They put real images,
// tensors and checkpoints into the requests the document describes, use
// the API key where the document asks for it, and turn the error
// responses that a request can provoke into such requests; the others
// (408, 413, 429, 500, 503, 507: load, time, size and disk) are skipped.
const hooks = require('hooks');
const fs = require('fs');

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set: run this through go test ./e2e/contract`);
  return v;
};
const images = JSON.parse(env('LCNET_CONTRACT_IMAGES')); // content type -> file
const key = env('LCNET_CONTRACT_KEY');
const checkpoint = env('LCNET_CONTRACT_CHECKPOINT');
const side = Number(env('LCNET_CONTRACT_SIDE'));
const dataset = env('LCNET_CONTRACT_DATASET');

// finetuneForm is the multipart body of a fine-tuning job on the served
// model; many epochs keep a job running while the job transactions run.
function finetuneForm(name, epochs) {
  return multipart([['name', name], ['epochs', epochs], ['val_split', '0'],
    ['dataset', fs.readFileSync(dataset), 'dataset.tar']]);
}

// Jobs started before the transactions: one to report, one (queued behind
// it, since a replica runs one job at a time) to cancel.
const jobs = {};
hooks.beforeAll(async (transactions, done) => {
  try {
    const base = transactions[0].protocol + '//' + transactions[0].host + ':' + transactions[0].port;
    for (const which of ['report', 'cancel']) {
      const [type, body] = finetuneForm('dredd_' + which, 10000);
      const res = await fetch(base + '/v1/models/textline/finetune', {
        method: 'POST', body, headers: { 'Content-Type': type, Authorization: `Bearer ${key}` },
      });
      const text = await res.text();
      if (res.status !== 202) throw new Error(`starting a fine-tuning job: ${res.status} ${text}`);
      jobs[which] = JSON.parse(text).id;
    }
  } catch (e) {
    hooks.log(`beforeAll: ${e.stack || e}`);
    for (const t of transactions) t.fail = `no fine-tuning job to test against: ${e.message}`;
  }
  done();
});

function setJob(t, id) {
  t.fullPath = t.fullPath.replace(/\/v1\/jobs\/[^/?]+/, `/v1/jobs/${id}`);
  t.request.uri = t.fullPath;
}

// A request provokes these statuses; the others are skipped.
const provoked = new Set([400, 401, 403, 404, 415, 421, 422]);

function header(t, name) {
  const h = t.request.headers;
  const k = Object.keys(h).find((x) => x.toLowerCase() === name.toLowerCase());
  return k === undefined ? undefined : h[k];
}
function setHeader(t, name, value) {
  for (const k of Object.keys(t.request.headers)) {
    if (k.toLowerCase() === name.toLowerCase()) delete t.request.headers[k];
  }
  if (value !== undefined) t.request.headers[name] = value;
}
function setBinary(t, contentType, buf) {
  setHeader(t, 'Content-Type', contentType);
  t.request.body = buf.toString('base64');
  t.request.bodyEncoding = 'base64';
}
function multipart(fields) {
  const boundary = 'lcnetcontract' + Date.now();
  const parts = [];
  for (const [name, value, filename] of fields) {
    const disp = filename ? `; filename="${filename}"` : '';
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"${disp}\r\n\r\n`));
    parts.push(Buffer.isBuffer(value) ? value : Buffer.from(String(value)));
    parts.push(Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return [`multipart/form-data; boundary=${boundary}`, Buffer.concat(parts)];
}

// tensor is one image of 3 x side x side, every value 0.5.
function tensorRequest(binary, binaryOut) {
  const n = 3 * side * side;
  const req = { id: 'dredd', inputs: [{ name: 'x', shape: [1, 3, side, side], datatype: 'FP32' }] };
  if (binaryOut) req.parameters = { binary_data_output: true };
  if (!binary) {
    req.inputs[0].data = new Array(n).fill(0.5);
    return [Buffer.from(JSON.stringify(req)), undefined];
  }
  req.inputs[0].parameters = { binary_data_size: 4 * n };
  const json = Buffer.from(JSON.stringify(req));
  const data = Buffer.alloc(4 * n);
  for (let i = 0; i < n; i++) data.writeFloatLE(0.5, 4 * i);
  return [Buffer.concat([json, data]), json.length];
}

function imageBody(t, ct) {
  if (ct.startsWith('multipart/form-data')) {
    const fields = [['image', fs.readFileSync(images['image/png']), 'a.png'], ['image', fs.readFileSync(images['image/jpeg']), 'b.jpg']];
    const [type, body] = multipart(fields);
    setBinary(t, type, body);
  } else if (ct === 'application/json') {
    t.request.body = JSON.stringify({ images: [fs.readFileSync(images['image/png']).toString('base64')] });
  } else {
    setBinary(t, ct, fs.readFileSync(images[ct] || images['image/png']));
  }
}

hooks.beforeEach((t, done) => {
  const status = Number(t.expected.statusCode);
  const ct = (header(t, 'Content-Type') || '').split(';')[0];
  const path = t.request.uri.split('?')[0];
  const finetune = t.request.method === 'POST' && path.endsWith('/finetune');
  const keyed = (t.request.method === 'POST' && path === '/v1/models') || finetune || t.request.method === 'DELETE';
  const job = path.startsWith('/v1/jobs/');
  const tensor = path.endsWith('/infer');
  const isImages = /\/(classify|features)$/.test(path);

  if (status >= 200 && status < 300) {
    if (keyed) setHeader(t, 'Authorization', `Bearer ${key}`);
    if (isImages) imageBody(t, ct);
    if (tensor) {
      const binaryOut = (t.expected.headers['Content-Type'] || '').startsWith('application/octet-stream');
      const [body, headerLen] = tensorRequest(ct === 'application/octet-stream', binaryOut);
      setBinary(t, ct || 'application/json', body);
      if (headerLen !== undefined) setHeader(t, 'Inference-Header-Content-Length', String(headerLen));
      if (binaryOut) delete t.expected.body; // bytes after the JSON; checked by api tests
    }
    if (t.request.method === 'POST' && path === '/v1/models') {
      const [type, body] = multipart([['name', 'textline'], ['file', fs.readFileSync(checkpoint), 'model.pdparams']]);
      setBinary(t, type, body);
    }
    if (finetune) {
      const [type, body] = finetuneForm('dredd_posted', 1);
      setBinary(t, type, body);
    }
    if (job) {
      setJob(t, t.request.method === 'DELETE' ? jobs.cancel : jobs.report);
    } else if (t.request.method === 'DELETE') {
      // Delete the version the upload above made, and keep 1 for the
      // transactions after this one.
      t.fullPath = t.fullPath.replace(/\/versions\/1$/, '/versions/2');
      t.request.uri = t.fullPath;
    }
    return done();
  }
  if (!provoked.has(status)) {
    t.skip = true;
    return done();
  }
  switch (status) {
    case 401:
      setHeader(t, 'Authorization', undefined);
      break;
    case 403:
      setHeader(t, 'Authorization', 'Bearer not-the-key');
      break;
    case 421:
      // The server is bound to loopback: a name re-pointed at it (DNS
      // rebinding) is refused on every route.
      setHeader(t, 'Host', 'evil.example');
      break;
    case 404:
      if (job) {
        if (keyed) setHeader(t, 'Authorization', `Bearer ${key}`);
        setJob(t, 'nope');
        break;
      }
      if (!/textline/.test(t.fullPath)) { t.skip = true; break; }
      if (keyed) setHeader(t, 'Authorization', `Bearer ${key}`);
      t.fullPath = t.fullPath.replace('textline', 'nope');
      t.request.uri = t.fullPath;
      if (isImages) imageBody(t, ct);
      if (tensor) {
        setHeader(t, 'Content-Type', 'application/json');
        t.request.body = JSON.stringify({ inputs: [] });
      }
      if (finetune) {
        const [type, body] = finetuneForm('dredd_missing_base', 1);
        setBinary(t, type, body);
      }
      break;
    case 400:
      if (tensor) {
        setHeader(t, 'Content-Type', 'application/json');
        t.request.body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3, side], datatype: 'FP32', data: [0] }] });
      } else if (isImages && ct === 'application/json') {
        t.request.body = JSON.stringify({ images: [] });
      } else {
        t.skip = true;
      }
      break;
    case 422:
      if (!isImages) { t.skip = true; break; }
      setBinary(t, 'image/png', fs.readFileSync(images['image/png']).subarray(0, 64));
      break;
    case 415:
      if (!isImages) { t.skip = true; break; }
      setHeader(t, 'Content-Type', 'text/plain');
      t.request.body = 'not an image';
      break;
  }
  return done();
});

// Dredd's OpenAPI 3 adapter rebuilds response schemas from its own data
// structures, and in doing so requires every property. Validate against
// the document's own schema instead, with its references inlined.
const doc = JSON.parse(fs.readFileSync(`${__dirname}/../../openapi/openapi.json`, 'utf8'));
function inline(s) {
  if (Array.isArray(s)) return s.map(inline);
  if (!s || typeof s !== 'object') return s;
  if (s.$ref) return inline(s.$ref.replace('#/', '').split('/').reduce((o, k) => o[k], doc));
  const out = {};
  for (const [k, v] of Object.entries(s)) out[k] = k === 'example' ? v : inline(v);
  return out;
}
function lowerKeys(h) {
  const out = {};
  for (const [k, v] of Object.entries(h || {})) out[k.toLowerCase()] = v;
  return out;
}

hooks.beforeEachValidation((t, done) => {
  const op = doc.paths[t.origin.resourceName] && doc.paths[t.origin.resourceName][t.request.method.toLowerCase()];
  const resp = op && op.responses[t.expected.statusCode];
  const expectedType = (lowerKeys(t.expected.headers)['content-type'] || '').split(';')[0].trim();
  const media = resp && resp.content && resp.content[expectedType];
  if (media && media.schema && expectedType.endsWith('json')) {
    t.expected.bodySchema = JSON.stringify(inline(media.schema));
  }
  // Media type parameters (Prometheus' version=0.0.4) are not part of
  // the contract; the type is.
  for (const k of Object.keys(t.real.headers || {})) {
    if (k.toLowerCase() === 'content-type') t.real.headers[k] = t.real.headers[k].split(';')[0].trim();
  }
  // Inference-Header-Content-Length comes only with binary outputs.
  if (expectedType !== 'application/octet-stream') {
    for (const k of Object.keys(t.expected.headers || {})) {
      if (k.toLowerCase() === 'inference-header-content-length') delete t.expected.headers[k];
    }
  }
  done();
});
