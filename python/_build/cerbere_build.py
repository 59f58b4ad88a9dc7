"""An in-tree PEP 517 build backend for the binding, standard library only.

pip builds a package in an isolated environment and first installs the
backend's requirements; with setuptools as the backend that needs the
network.  The binding is two pure-Python files, so this backend writes the
wheel itself (a zip with the package and its .dist-info: METADATA, WHEEL,
RECORD with sha256 digests) and requires nothing: `pip install ./python`
works offline.  Version and dependencies are read from pyproject.toml's
[project] table (Python 3.11's tomllib, else the few lines are parsed by
hand)."""

import base64
import hashlib
import os
import re
import zipfile

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = "cerbere"


def _project():
    text = open(os.path.join(HERE, "pyproject.toml"), encoding="utf-8").read()
    try:
        import tomllib
        return tomllib.loads(text)["project"]
    except ImportError:
        proj, section = {}, None
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("["):
                section = line.strip("[]")
            elif section == "project" and "=" in line:
                k, v = (s.strip() for s in line.split("=", 1))
                proj[k] = re.findall(r'"([^"]*)"', v) if v.startswith("[") else v.strip('"')
        return proj


def _metadata():
    p = _project()
    lines = ["Metadata-Version: 2.1", "Name: " + p["name"], "Version: " + p["version"],
             "Summary: " + p.get("description", ""), "Requires-Python: " + p.get("requires-python", ">=3")]
    lines += ["Requires-Dist: " + d for d in p.get("dependencies", [])]
    return p["name"], p["version"], "\n".join(lines) + "\n"


def _digest(data):
    h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "sha256=" + h


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    name, version, meta = _metadata()
    info = "%s-%s.dist-info" % (name, version)
    os.makedirs(os.path.join(metadata_directory, info), exist_ok=True)
    with open(os.path.join(metadata_directory, info, "METADATA"), "w", encoding="utf-8") as f:
        f.write(meta)
    return info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version, meta = _metadata()
    info = "%s-%s.dist-info" % (name, version)
    wheel = "%s-%s-py3-none-any.whl" % (name, version)
    files = []
    for fn in sorted(os.listdir(os.path.join(HERE, PKG))):
        if fn.endswith(".py"):
            with open(os.path.join(HERE, PKG, fn), "rb") as f:
                files.append((PKG + "/" + fn, f.read()))
    files.append((info + "/METADATA", meta.encode()))
    files.append((info + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: cerbere_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
    record = "".join("%s,%s,%d\n" % (n, _digest(d), len(d)) for n, d in files) + info + "/RECORD,,\n"
    files.append((info + "/RECORD", record.encode()))
    path = os.path.join(wheel_directory, wheel)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in files:
            zi = zipfile.ZipInfo(n, date_time=(1980, 1, 1, 0, 0, 0))   # reproducible
            zi.external_attr = 0o644 << 16
            z.writestr(zi, d, zipfile.ZIP_DEFLATED)
    return wheel


def build_sdist(sdist_directory, config_settings=None):
    raise RuntimeError("cerbere's binding has no sdist: install from the source tree (pip install ./python)")
