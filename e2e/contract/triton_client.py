"""Drive lcnet serve with Triton's own HTTP client (tritonclient.http).

Run by e2e/contract/triton_test.go when TRITON_CLIENT_SRC points at a checkout of the
triton-inference-server/client repository (its src/python/library is put
on PYTHONPATH); needs python3 with numpy, geventhttpclient and rapidjson.
Usage: triton_client.py HOST:PORT MODEL
"""

import sys

import numpy as np
import tritonclient.http as httpclient


def main():
    url, model = sys.argv[1], sys.argv[2]
    c = httpclient.InferenceServerClient(url=url)
    assert c.is_server_live(), "server not live"
    assert c.is_server_ready(), "server not ready"
    meta = c.get_server_metadata()
    assert meta["name"] == "lcnet" and "binary_tensor_data" in meta["extensions"], meta
    md = c.get_model_metadata(model)
    _, ch, h, w = md["inputs"][0]["shape"]
    for _ in range(600):
        if c.is_model_ready(model):
            break
        import time
        time.sleep(0.1)
    else:
        raise AssertionError("model never ready")

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, ch, h, w)).astype(np.float32)
    results = {}
    for dtype, binary_in, binary_out in [
        (np.float32, True, True),  # the client's default
        (np.float32, False, False),  # all JSON
        (np.float16, True, True),
        (np.float16, False, True),
    ]:
        inp = httpclient.InferInput("x", list(x.shape), "FP16" if dtype == np.float16 else "FP32")
        inp.set_data_from_numpy(x.astype(dtype), binary_data=binary_in)
        outs = [httpclient.InferRequestedOutput(n, binary_data=binary_out) for n in ("logits", "probabilities", "pooled")]
        r = c.infer(model, [inp], outputs=outs)
        logits = r.as_numpy("logits")
        probs = r.as_numpy("probabilities")
        assert logits.shape == (2, md["outputs"][0]["shape"][1]), logits.shape
        assert np.allclose(probs.sum(axis=1), 1, atol=1e-4), probs.sum(axis=1)
        results[(dtype.__name__, binary_in, binary_out)] = logits
        print(f"{dtype.__name__} binary_in={binary_in} binary_out={binary_out}: logits {logits.shape}, top1 {logits.argmax(axis=1).tolist()}")
    # Default outputs (none named): the client asks for binary_data_output.
    inp = httpclient.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    r = c.infer(model, [inp])
    assert r.as_numpy("features") is not None and r.as_numpy("pooled") is not None
    a, b = results[("float32", True, True)], results[("float32", False, False)]
    assert np.array_equal(a, b), np.abs(a - b).max()
    d16 = np.abs(results[("float16", True, True)] - a).max()
    assert d16 < 0.05 * max(1.0, np.abs(a).max()), d16
    # The two images differ, so their logits must too, by far more than
    # rounding the input to FP16 moves them.
    spread = np.abs(a[0] - a[1]).max()
    assert spread > 10 * d16, (spread, d16)
    print(f"binary and JSON FP32 agree exactly; FP16 differs by at most {d16:.4g}, the two images by {spread:.4g}")
    print("tritonclient.http: ok")


if __name__ == "__main__":
    main()
