"""Certify a PyTorch-exported model from NumPy inputs with cerbere.

    python3 python/examples/certify_torch.py [--net NET.onnx] [--rows N] [--eps E]
    python3 python/examples/certify_torch.py --export my.onnx   # needs torch

By default it loads nets/digits_cnn.onnx, a small conv net trained in
PyTorch and exported with torch.onnx.export (nets/PROVENANCE), and the
digits test rows from nets/digits_test.csv as a NumPy array.  For each row:
the prediction, certified logit bounds over the L-inf ball (CROWN), the
certify cascade's verdict with its certified radius, and a saliency map
with its certified bounds.  It ends with a certificates JSON and one line
"certified K of N at L-inf eps E".  Torch is needed only for --export,
which trains a small CNN on the same rows for a few epochs, exports it to
ONNX and certifies that instead.
"""
import argparse
import os
import sys
import tempfile

import numpy as np

import cerbere

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def export_with_torch(path, x, y):
    """Train a small CNN on (x, y) for a few epochs and export it to path."""
    import torch  # only here: the rest of the example needs NumPy alone

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(8 * 4 * 4, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    xt = torch.tensor(x.reshape(-1, 1, 8, 8), dtype=torch.float32)
    yt = torch.tensor(y, dtype=torch.long)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
    torch.onnx.export(model, xt[:1], path, input_names=["x"], output_names=["logits"], opset_version=13)
    print("exported %s (training loss %.3f)" % (path, float(loss)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--net", default=os.path.join(ROOT, "nets", "digits_cnn.onnx"))
    ap.add_argument("--data", default=os.path.join(ROOT, "nets", "digits_test.csv"))
    ap.add_argument("--rows", type=int, default=10)
    ap.add_argument("--eps", type=float, default=0.02)
    ap.add_argument("--export", metavar="OUT.onnx", help="train and export a torch CNN first (needs torch)")
    ap.add_argument("--json", default=os.path.join(tempfile.gettempdir(), "certify_torch_certificates.json"))
    a = ap.parse_args()

    data = np.loadtxt(a.data, delimiter=",")          # rows: label, 64 pixels in [0, 1]
    labels, images = data[:, 0].astype(int), data[:, 1:].reshape(-1, 8, 8)
    if a.export:
        export_with_torch(a.export, images, labels)
        a.net = a.export
    net = cerbere.Network(a.net)
    print("%s: %d inputs, %d outputs; libcerbere %s" % (a.net, net.n_inputs, net.n_outputs, cerbere.version()))

    certs = []
    for i in range(min(a.rows, len(images))):
        x, y = images[i], int(labels[i])                 # any shape with n_inputs values
        logits = net.forward(x)
        lo, hi = net.bounds(x, a.eps, "inf", "crown", clip=(0.0, 1.0))
        cert = net.certify(x, y, a.eps, "inf", clip=(0.0, 1.0), radius=True, bab_timeout=1.0)
        sal = net.attribute(x, y, "saliency")
        slo, shi = net.attribute_bounds(x, y, a.eps, "inf", "saliency", clip=(0.0, 1.0))
        certs.append(cert)
        print("row %2d label %d pred %d: %-9s by %-12s radius [%.4f, %.4f]  logit %d in [%.3f, %.3f]  "
              "top saliency pixel %d (certified within [%.3f, %.3f])"
              % (i, y, int(np.argmax(logits)), cert.answer, cert.method, cert.certified_radius, cert.attack_radius,
                 y, lo[y], hi[y], int(np.argmax(sal)), slo[np.argmax(sal)], shi[np.argmax(sal)]))
    cerbere.write_certificates_json(a.json, certs)
    n_ok = sum(c.verified for c in certs)
    print("wrote %s" % a.json)
    print("certified %d of %d at L-inf eps %g" % (n_ok, len(certs), a.eps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
