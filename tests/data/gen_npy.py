#!/usr/bin/python3
"""Writes the NPY/NPZ test files (run from the repository root with
Debian's /usr/bin/python3 and python3-numpy; the tests themselves do not need
Python): /usr/bin/python3 tests/data/gen_npy.py

tests/data/npy/: nets/digits_test20.csv as NumPy arrays, for the "same data
from every format" tests (test_npy, tests/cli): X as float64, float32 and
uint8 times 16 (the digits pixels are k/16: --scale 0.0625 gives them back
exactly), labels as int64, a .npz of x/y, NPY v2 and v3 copies, and the
2-feature tiny_x/tiny_y pair that tests/run_bad.sh pairs with the bad files.

tests/bad/bad_npy_*.npy, bad_npz_*.npz: malformed files, each refused by
name (tests/bad/EXPECT_npy).  Files named bad_npy_labels_* are labels files
(run with X = tests/data/npy/tiny_x.npy), other .npy are X files (run with
labels tests/data/npy/tiny_y.npy).
"""
import io, os, struct, zipfile
import numpy as np

D = "tests/data/npy"
BAD = "tests/bad"
os.makedirs(D, exist_ok=True)

raw = np.loadtxt("nets/digits_test20.csv", delimiter=",")
y = raw[:, 0].astype(np.int64)
x = raw[:, 1:]
assert np.all(x * 16 == np.round(x * 16))
np.save(f"{D}/digits20_x_f8.npy", x)
np.save(f"{D}/digits20_x_f4.npy", x.astype(np.float32))
np.save(f"{D}/digits20_x_u1x16.npy", (x * 16).astype(np.uint8))
np.save(f"{D}/digits20_x_8x8.npy", x.reshape(-1, 1, 8, 8))   # (N, C, H, W): 64 features a row
np.save(f"{D}/digits20_y.npy", y)
np.save(f"{D}/digits20_y_i4.npy", y.astype(np.int32))
np.save(f"{D}/digits20_y_u1.npy", y.astype(np.uint8))
np.save(f"{D}/digits20_y_f8.npy", y.astype(np.float64))
np.savez(f"{D}/digits20.npz", x=x, y=y)
np.savez(f"{D}/digits20_u1x16.npz", x=(x * 16).astype(np.uint8), y=y)
np.savez_compressed(f"{D}/digits20_compressed.npz", x=x, y=y)

def npy_bytes(arr, version=(1, 0)):
    b = io.BytesIO()
    np.lib.format.write_array(b, arr, version=version)
    return b.getvalue()

open(f"{D}/digits20_x_v2.npy", "wb").write(npy_bytes(x, (2, 0)))
open(f"{D}/digits20_x_v3.npy", "wb").write(npy_bytes(x, (3, 0)))

tx = np.array([[0.5, -1.0], [1.0, 2.0], [0.0, 0.25]])
ty = np.array([0, 1, 1], dtype=np.int64)
np.save(f"{D}/tiny_x.npy", tx)
np.save(f"{D}/tiny_y.npy", ty)

def header(d, version=1):
    h = d.encode("latin1")
    pad = 64 - (10 + len(h) + 1) % 64
    h = h + b" " * pad + b"\n"
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<H", len(h)) + h

def bad(name, data):
    open(f"{BAD}/{name}", "wb").write(data)

good_x = tx.astype("<f8").tobytes()
bad("bad_npy_fortran.npy", header("{'descr': '<f8', 'fortran_order': True, 'shape': (3, 2), }") + good_x)
bad("bad_npy_dtype.npy", header("{'descr': '<c16', 'fortran_order': False, 'shape': (3, 1), }") + good_x)
bad("bad_npy_bigendian.npy", header("{'descr': '>f8', 'fortran_order': False, 'shape': (3, 2), }") + good_x)
bad("bad_npy_header.npy", header("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2) ") + good_x)
bad("bad_npy_shape_overflow.npy", header("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }") + good_x)
bad("bad_npy_truncated.npy", npy_bytes(tx)[:-5])
bad("bad_npy_trailing.npy", npy_bytes(tx) + b"\0" * 8)
bad("bad_npy_nan.npy", npy_bytes(np.array([[0.5, np.nan], [1.0, 2.0], [0.0, 0.25]])))
bad("bad_npy_wrong_shape.npy", npy_bytes(np.zeros((3, 3))))
bad("bad_npy_version.npy", npy_bytes(tx)[:6] + b"\x09\x00" + npy_bytes(tx)[8:])
bad("bad_npy_labels_count.npy", npy_bytes(np.array([0, 1], dtype=np.int64)))
bad("bad_npy_labels_fraction.npy", npy_bytes(np.array([0, 0.5, 1])))
bad("bad_npy_labels_shape.npy", npy_bytes(np.zeros((3, 2), dtype=np.int64)))

def npz_bytes(arrays, compression=zipfile.ZIP_STORED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", compression) as z:
        for k, a in arrays.items():
            with z.open(k + ".npy", "w", force_zip64=True) as f:
                f.write(npy_bytes(a))
    return b.getvalue()

bad("bad_npz_bzip2.npz", npz_bytes({"x": tx, "y": ty}, zipfile.ZIP_BZIP2))
z = bytearray(npz_bytes({"x": tx, "y": ty}, zipfile.ZIP_DEFLATED))
z[z.find(b"x.npy") + 5 + 20 + 10] ^= 0x55                          # inside x.npy's deflate stream
bad("bad_npz_deflate_corrupt.npz", bytes(z))
bad("bad_npz_no_y.npz", npz_bytes({"x": tx}))
bad("bad_npz_truncated.npz", npz_bytes({"x": tx, "y": ty})[:-30])
good = bytearray(npz_bytes({"x": tx, "y": ty}))
i = good.find(b"\x93NUMPY") + 100                                  # a data byte of x.npy
good[i] ^= 0xFF
bad("bad_npz_crc.npz", bytes(good))
bad("bad_npz_label_count.npz", npz_bytes({"x": tx, "y": ty[:2]}))
