#!/usr/bin/python3
"""Bad inputs for the PNG folder loader and the threat-model files (issue 20, acceptance 7), standard
library only.  tests/run_bad.sh runs them against tests/data/tiny.nnet (2 inputs):
  bad_pngdir_*/   a PNG folder (predict --data DIR --labels DIR/labels.csv): grey + alpha, a truncated
                  file, a 2x2 image for a 2-input net, a label line naming a missing file, a label that
                  is no integer, a name with "..", a labels CSV with one field
  bad_box_*       a --box LO file (bounds ... --box FILE tests/data/threat/hi2.txt): 3 values for 2
                  inputs (.npy and text), NaN, a word, complex dtype, a .npz, binary bytes, LO above HI,
                  a fortran-order array, a truncated .npy
  bad_epsw_*      an --eps-per-feature file (certify ... --eps-per-feature FILE): a negative radius, a
                  (1, 3) array, an empty file
  bad_meanstd_*.args  arguments for predict: --mean/--std with 3 values for a 2-input net, and unequal
                  counts
Run with /usr/bin/python3 tests/bad/gen_threat_bad.py."""
import os, struct, zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def chunk(t, data):
    return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xffffffff)


def png(w, h, bitdepth, colortype, rows):
    raw = b"".join(b"\x00" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bitdepth, colortype, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def npy(descr, shape, payload, fortran=False):
    h = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (descr, fortran, ", ".join(map(str, shape)) + ("," if len(shape) == 1 else ""))
    h = h + " " * ((64 - (10 + len(h) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + payload


def folder(name, files):
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    for f, data in files.items():
        open(os.path.join(d, f), "wb").write(data if isinstance(data, bytes) else data.encode())


def write(name, data):
    open(os.path.join(HERE, name), "wb").write(data if isinstance(data, bytes) else data.encode())


def main():
    good = png(2, 1, 8, 0, [b"\x10\x20"])
    folder("bad_pngdir_alpha", {"img.png": png(2, 1, 8, 4, [b"\x10\xff\x20\xff"]), "labels.csv": "img.png,0\n"})
    folder("bad_pngdir_truncated", {"img.png": good[:40], "labels.csv": "img.png,0\n"})
    folder("bad_pngdir_size", {"img.png": png(2, 2, 8, 0, [b"\x10\x20", b"\x30\x40"]), "labels.csv": "img.png,0\n"})
    folder("bad_pngdir_missing", {"img.png": good, "labels.csv": "img.png,0\nnope.png,1\n"})
    folder("bad_pngdir_label", {"img.png": good, "labels.csv": "file,label\nimg.png,cat\n"})
    folder("bad_pngdir_dotdot", {"img.png": good, "labels.csv": "../img.png,0\n"})
    folder("bad_pngdir_onefield", {"img.png": good, "labels.csv": "img.png\n"})
    write("bad_box_shape.npy", npy("<f8", (3,), struct.pack("<3d", 0, 0, 0)))
    write("bad_box_count.txt", "0,0,0\n")
    write("bad_box_nan.txt", "0,nan\n")
    write("bad_box_word.txt", "0,abc\n")
    write("bad_box_dtype.npy", npy("<c16", (2,), b"\x00" * 32))
    write("bad_box_fortran.npy", npy("<f8", (1, 2), struct.pack("<2d", 0, 0), fortran=True))
    write("bad_box_truncated.npy", npy("<f8", (2,), struct.pack("<d", 0)))
    write("bad_box_order.txt", "0,2\n")
    write("bad_box_binary.bin", bytes(range(256)))
    write("bad_box_archive.npz", b"PK\x03\x04" + b"\x00" * 60)
    write("bad_epsw_negative.txt", "0.1,-0.1\n")
    write("bad_epsw_shape.npy", npy("<f8", (1, 3), struct.pack("<3d", 0.1, 0.1, 0.1)))
    write("bad_epsw_empty.txt", "")
    write("bad_meanstd_len.args", "--mean 0.1,0.2,0.3 --std 1,1,1\n")
    write("bad_meanstd_count.args", "--mean 0.1,0.2 --std 1\n")


main()
