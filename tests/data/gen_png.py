#!/usr/bin/python3
"""Writes the PNG test folders (issue 20), with a minimal PNG encoder (zlib + struct, written from the
PNG specification; no imaging library needed).  Run with /usr/bin/python3 tests/data/gen_png.py.
  png/        digit_0..4.png: rows 0-4 of nets/digits_test20.csv as 8x8 grey images, pixel = 16 x value
              (the values are k/16, so --scale 1/16 gives them back exactly); labels.csv (with a header)
  png_misc/   rgb.png (3 channels 2x3, pixel (y, x, c) = 100 c + 10 y + x), grey16.png (16-bit 2x2,
              1000 (2y + x) + 1), pal.png (palette, 2x2), alpha.png (grey + alpha: refused),
              trns.png (grey with a tRNS chunk: refused), bad.png (truncated), and their label CSVs."""
import os, struct, zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def chunk(t, data):
    c = struct.pack(">I", len(data)) + t + data
    return c + struct.pack(">I", zlib.crc32(t + data) & 0xffffffff)


def png(path, w, h, bitdepth, colortype, rows, extra=b""):
    raw = b"".join(b"\x00" + r for r in rows)
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bitdepth, colortype, 0, 0, 0)) + extra +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    open(path, "wb").write(data)
    return data


def main():
    d = os.path.join(HERE, "png")
    os.makedirs(d, exist_ok=True)
    rows = [l.strip().split(",") for l in open(os.path.join(HERE, "..", "..", "nets", "digits_test20.csv"))][:5]
    with open(os.path.join(d, "labels.csv"), "w") as f:
        f.write("file,label\n")
        for i, r in enumerate(rows):
            v = [int(round(float(t) * 16)) for t in r[1:]]
            assert all(abs(float(t) * 16 - k) < 1e-9 for t, k in zip(r[1:], v))
            png(os.path.join(d, "digit_%d.png" % i), 8, 8, 8, 0, [bytes(v[y * 8:(y + 1) * 8]) for y in range(8)])
            f.write("digit_%d.png,%s\n" % (i, r[0]))
    m = os.path.join(HERE, "png_misc")
    os.makedirs(m, exist_ok=True)
    png(os.path.join(m, "rgb.png"), 3, 2, 8, 2,
        [bytes(100 * c + 10 * y + x for x in range(3) for c in range(3)) for y in range(2)])
    png(os.path.join(m, "grey16.png"), 2, 2, 16, 0,
        [b"".join(struct.pack(">H", 1000 * (2 * y + x) + 1) for x in range(2)) for y in range(2)])
    png(os.path.join(m, "pal.png"), 2, 2, 8, 3, [bytes([0, 1]), bytes([1, 0])],
        extra=chunk(b"PLTE", bytes([10, 20, 30, 40, 50, 60])))
    png(os.path.join(m, "alpha.png"), 2, 2, 8, 4, [bytes([1, 255, 2, 255]), bytes([3, 255, 4, 255])])
    png(os.path.join(m, "trns.png"), 2, 2, 8, 0, [bytes([1, 2]), bytes([3, 4])], extra=chunk(b"tRNS", struct.pack(">H", 0)))
    good = png(os.path.join(m, "tmp.png"), 2, 2, 8, 0, [bytes([1, 2]), bytes([3, 4])])
    open(os.path.join(m, "bad.png"), "wb").write(good[:len(good) - 20])
    os.remove(os.path.join(m, "tmp.png"))
    for name in ("rgb", "grey16", "pal", "alpha", "trns", "bad"):
        open(os.path.join(m, name + ".csv"), "w").write("%s.png,1\n" % name)


main()
