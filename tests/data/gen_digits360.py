#!/usr/bin/python3
"""The 360 rows of nets/digits_test.csv in every data format cerbere reads (issue 20, acceptance 1),
written with the standard library only (NPY, NPZ and PNG encoders from their specifications; no numpy):
  digits360/x_u1x16.npy   X as uint8, shape (360, 1, 8, 8), pixel = 16 x value (the values are k/16,
                          so --scale 1/16 gives them back exactly); y.npy the labels (int64, (360,))
  digits360/digits360.npz x float64 (360, 64) and y int64, deflated (as np.savez_compressed)
  digits360/png/          r000.png .. r359.png, 8x8 8-bit grey, pixel = 16 x value; labels.csv
Run with /usr/bin/python3 tests/data/gen_digits360.py; tests/run_formats.sh checks that certify gives
the same certificates on all of them."""
import os, struct, zipfile, zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "digits360")


def npy(descr, shape, payload):
    h = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, ", ".join(map(str, shape)) + ("," if len(shape) == 1 else ""))
    pad = 64 - (10 + len(h) + 1) % 64
    h = h + " " * (pad % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + payload


def chunk(t, data):
    return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xffffffff)


def png(rows):
    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    rows = [l.strip().split(",") for l in open(os.path.join(HERE, "..", "..", "nets", "digits_test.csv")) if l.strip()]
    assert len(rows) == 360 and all(len(r) == 65 for r in rows)
    labels = [int(r[0]) for r in rows]
    x = [[float(v) for v in r[1:]] for r in rows]
    pix = [[int(round(16 * v)) for v in xr] for xr in x]
    assert all(p / 16 == v for pr, xr in zip(pix, x) for p, v in zip(pr, xr)), "a value is not k/16"
    os.makedirs(os.path.join(OUT, "png"), exist_ok=True)
    y = npy("<i8", (360,), struct.pack("<360q", *labels))
    open(os.path.join(OUT, "y.npy"), "wb").write(y)
    open(os.path.join(OUT, "x_u1x16.npy"), "wb").write(npy("|u1", (360, 1, 8, 8), bytes(p for pr in pix for p in pr)))
    xf = npy("<f8", (360, 64), struct.pack("<%dd" % (360 * 64), *[v for xr in x for v in xr]))
    with zipfile.ZipFile(os.path.join(OUT, "digits360.npz"), "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x.npy", xf)
        z.writestr("y.npy", y)
    with open(os.path.join(OUT, "png", "labels.csv"), "w") as f:
        f.write("file,label\n")
        for i, (pr, lab) in enumerate(zip(pix, labels)):
            name = "r%03d.png" % i
            open(os.path.join(OUT, "png", name), "wb").write(png([pr[8 * k:8 * k + 8] for k in range(8)]))
            f.write("%s,%d\n" % (name, lab))


main()
