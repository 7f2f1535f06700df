#!/usr/bin/env python3
"""Writes the cv2 goldens TestMatchesCV2 compares Preprocess against.

Run from this directory with Debian bookworm's python3-opencv (OpenCV 4.6)
and python3-numpy:  python3 gen.py

Each case decodes an input with cv2.imdecode(data, 1) and runs PaddleClas'
ResizeImage / CropImage exactly as ppcls/data/preprocess/ops/operators.py
does (DecodeImage to_rgb, int(round(side * percent)), cv2.resize with the
default INTER_LINEAR, (img - crop) // 2 offsets). The 8-bit result is saved
as PNG: normalisation is a float32 lookup checked separately.
"""
import json

import cv2
import numpy as np

CASES = [
    # name, input, resize_short, (w, h) size, (w, h) crop
    ("photo401_png_short256_crop224", "photo401.png", 256, None, (224, 224)),
    ("photo401_png_short100", "photo401.png", 100, None, None),
    ("photo401_png_160x80", "photo401.png", None, (160, 80), None),
    ("photo61_png_160x80", "photo61.png", None, (160, 80), None),
    ("text640_png_160x80", "text640.png", None, (160, 80), None),
    ("photo401_jpg_short256_crop224", "photo401.jpg", 256, None, (224, 224)),
    ("photo61_png_short256_crop224", "photo61.png", 256, None, (224, 224)),
    ("photo401_png_97x61", "photo401.png", None, (97, 61), None),
] + [
    # EXIF orientations 2-8 (photo201_exif*.jpg, written by testimage.JPEG
    # with testimage.EXIF): cv2.imdecode applies them.
    ("photo201_exif%d_160x80" % o, "photo201_exif%d.jpg" % o, None, (160, 80), None)
    for o in range(2, 9)
] + [
    # Decoding alone (no resize) of every pixel layout, made by
    # testimage from a 67x45 Photo: alpha is dropped keeping the colour,
    # 16-bit keeps the high byte, lossy WebP goes through libwebp's
    # upsampler and limited-range YUV conversion.
    (f.replace(".", "_"), f, None, None, None)
    for f in ["alpha.png", "gray.png", "gray16.png", "paletted_trns.png",
              "rgb16.png", "photo67.bmp", "photo67.tif", "photo67_lossy.webp",
              "photo67_lossless.webp", "alpha_lossy.webp", "photo67_ycck.jpg"]
]


def paddleclas(path, short, size, crop):
    data = np.fromfile(path, dtype=np.uint8)
    img = cv2.imdecode(data, 1)[:, :, ::-1]  # DecodeImage(to_rgb=True)
    h, w = img.shape[:2]
    if short:
        percent = float(short) / min(w, h)
        rw, rh = int(round(w * percent)), int(round(h * percent))
    elif size:
        rw, rh = size
    else:
        return np.ascontiguousarray(img)
    img = cv2.resize(img, (rw, rh), interpolation=cv2.INTER_LINEAR)
    if crop:
        cw, ch = crop
        x0, y0 = (rw - cw) // 2, (rh - ch) // 2
        img = img[y0:y0 + ch, x0:x0 + cw, :]
    return img


def main():
    meta = {"opencv": cv2.__version__, "numpy": np.__version__, "cases": []}
    for name, src, short, size, crop in CASES:
        out = paddleclas(src, short, size, crop)
        cv2.imwrite(name + ".png", np.ascontiguousarray(out[:, :, ::-1]))
        meta["cases"].append({
            "name": name, "input": src, "resize_short": short or 0,
            "size": list(size) if size else [0, 0],
            "crop": list(crop) if crop else [0, 0],
            "shape": list(out.shape),
        })
    with open("cases.json", "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
