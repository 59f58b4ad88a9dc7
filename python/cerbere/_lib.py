"""ctypes declarations of libcerbere.so (include/cerbere.h) and how it is found.

The library is looked up, first found wins:
  1. the CERBERE_LIB environment variable: the path of libcerbere.so(.0);
  2. the installed library: ctypes.util.find_library("cerbere") (ldconfig's
     cache, LD_LIBRARY_PATH), then PREFIX/lib for the prefixes /usr/local and
     /usr (`make install`'s default is /usr/local);
  3. the build tree this package sits in: ../../build/libcerbere.so.0 from
     this file (python/cerbere/ in the cerbere repository).
The structs below mirror the header field for field; every options struct
is filled by its *_opts_init first, given ctypes.sizeof of the struct here:
the library writes no more than that and reads it back by that size, so a
newer library with longer structs still works with this binding.
"""
import ctypes
import ctypes.util
import os

c_double_p = ctypes.POINTER(ctypes.c_double)
c_size_t_p = ctypes.POINTER(ctypes.c_size_t)


class CerbereError(Exception):
    """A call into libcerbere failed: str(err) is the library's one-line
    message, `code` the cb_status number (-1 usage, -2 i/o, -3 format,
    -4 unsupported, -5 shape, -6 value, -7 memory, -8 internal, -9 limit)
    and `status` its name ("usage error", "i/o error", ...)."""

    def __init__(self, code, status, message):
        super().__init__(message)
        self.code = code
        self.status = status


class Error(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int), ("msg", ctypes.c_char * 1024)]


class CertifyOpts(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("timeout", ctypes.c_double), ("bab_timeout", ctypes.c_double),
                ("bab_memory_mb", ctypes.c_double), ("radius", ctypes.c_int)]


class VerifyOpts(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("timeout", ctypes.c_double), ("max_memory_mb", ctypes.c_double),
                ("threads", ctypes.c_int)]


class RadiusOpts(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("method", ctypes.c_int), ("timeout", ctypes.c_double),
                ("bab_timeout", ctypes.c_double), ("bounds", ctypes.c_int), ("steps", ctypes.c_int)]


class Mege(ctypes.Structure):
    _fields_ = [("mege", ctypes.c_double), ("reco", ctypes.c_double), ("n_eq", ctypes.c_size_t),
                ("n_ne", ctypes.c_size_t), ("n_nan", ctypes.c_size_t)]


class Sanity(ctypes.Structure):
    _fields_ = [("model_spearman", ctypes.c_double), ("model_change", ctypes.c_double), ("logit_class", ctypes.c_int),
                ("logit_spearman", ctypes.c_double), ("logit_change", ctypes.c_double)]


class AttrOpts(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("method", ctypes.c_int), ("steps", ctypes.c_int),
                ("baseline", ctypes.c_double), ("baseline_vec", c_double_p), ("n_baselines", ctypes.c_int),
                ("samples", ctypes.c_int), ("sigma", ctypes.c_double), ("seed", ctypes.c_ulonglong),
                ("patch", ctypes.c_int), ("stride", ctypes.c_int), ("rise_p", ctypes.c_double),
                ("rise_cells", ctypes.c_int), ("node", ctypes.c_char_p), ("reduce", ctypes.c_int),
                ("norm", ctypes.c_int), ("eps", ctypes.c_double), ("lrp_rule", ctypes.c_char_p),
                ("lrp_eps", ctypes.c_double), ("lrp_gamma", ctypes.c_double), ("lrp_alpha", ctypes.c_double),
                ("lr", ctypes.c_double), ("grid", ctypes.c_int), ("kernel_width", ctypes.c_double),
                ("ridge", ctypes.c_double), ("attention_raw", ctypes.c_int), ("head_fusion", ctypes.c_int),
                ("query", ctypes.c_int)]


_H = ctypes.c_void_p           # every opaque handle
_E = ctypes.POINTER(Error)
_S = ctypes.c_int              # cb_status
_P = ctypes.POINTER(ctypes.c_void_p)
_Z = ctypes.c_size_t
_D = ctypes.c_double
_I = ctypes.c_int

# name: (restype, argtypes), in the header's order.
_PROTOS = {
    "cb_version": (ctypes.c_char_p, []),
    "cb_status_name": (ctypes.c_char_p, [_I]),
    "cb_net_load": (_S, [ctypes.c_char_p, _P, _E]),
    "cb_net_free": (None, [_H]),
    "cb_net_input_size": (_Z, [_H]),
    "cb_net_output_size": (_Z, [_H]),
    "cb_net_forward": (_S, [_H, c_double_p, _Z, c_double_p, _E]),
    "cb_region_ball": (_S, [_H, _I, _D, c_double_p, _Z, _P, _E]),
    "cb_region_box": (_S, [_H, c_double_p, c_double_p, _Z, _P, _E]),
    "cb_region_clip": (_S, [_H, c_double_p, c_double_p, _Z, _E]),
    "cb_region_free": (None, [_H]),
    "cb_bounds_logits": (_S, [_H, _H, _I, c_double_p, c_double_p, _Z, _E]),
    "cb_bounds_margins": (_S, [_H, _H, _I, _I, c_double_p, _Z, _E]),
    "cb_answer_name": (ctypes.c_char_p, [_I]),
    "cb_answer_vnnlib": (ctypes.c_char_p, [_I]),
    "cb_certify_opts_init": (None, [ctypes.POINTER(CertifyOpts), _Z]),
    "cb_certify": (_S, [_H, _H, _I, ctypes.POINTER(CertifyOpts), _P, _E]),
    "cb_certificate_free": (None, [_H]),
    "cb_certificate_answer": (_I, [_H]),
    "cb_certificate_method": (ctypes.c_char_p, [_H]),
    "cb_certificate_reason": (ctypes.c_char_p, [_H]),
    "cb_certificate_predicted": (_I, [_H]),
    "cb_certificate_counterexample": (c_double_p, [_H, c_size_t_p]),
    "cb_certificate_label": (_I, [_H]),
    "cb_certificate_margins": (c_double_p, [_H, c_size_t_p]),
    "cb_certificate_radii": (_I, [_H, c_double_p, c_double_p]),
    "cb_verify_opts_init": (None, [ctypes.POINTER(VerifyOpts), _Z]),
    "cb_verify_vnnlib": (_S, [_H, ctypes.c_char_p, ctypes.POINTER(VerifyOpts), _P, _E]),
    "cb_verification_free": (None, [_H]),
    "cb_verification_answer": (_I, [_H]),
    "cb_verification_reason": (ctypes.c_char_p, [_H]),
    "cb_verification_witness": (c_double_p, [_H, c_size_t_p, ctypes.POINTER(c_double_p), c_size_t_p]),
    "cb_verification_witness_rational": (_I, [_H]),
    "cb_lipschitz_upper": (_S, [_H, _I, c_double_p, _E]),
    "cb_radius_opts_init": (None, [ctypes.POINTER(RadiusOpts), _Z]),
    "cb_radius": (_S, [_H, _H, _I, ctypes.POINTER(RadiusOpts), c_double_p, c_double_p, _E]),
    "cb_gradient": (_S, [_H, c_double_p, _Z, c_double_p, _Z, c_double_p, _Z, _E]),
    "cb_jacobian_bounds": (_S, [_H, _H, _I, c_double_p, _Z, c_double_p, c_double_p, _Z, _E]),
    "cb_attr_method_name": (ctypes.c_char_p, [_I]),
    "cb_attr_opts_init": (None, [ctypes.POINTER(AttrOpts), _Z]),
    "cb_attr_map_size": (_Z, [_H, ctypes.POINTER(AttrOpts)]),
    "cb_attribute": (_S, [_H, c_double_p, _Z, _I, ctypes.POINTER(AttrOpts), c_double_p, _Z, _E]),
    "cb_attribute_bounds": (_S, [_H, _H, _I, ctypes.POINTER(AttrOpts), c_double_p, c_double_p, _Z, _E]),
    "cb_compare_models": (_S, [ctypes.POINTER(ctypes.c_void_p), _Z, c_double_p, ctypes.POINTER(_I),
                               ctypes.POINTER(_I), _Z, _Z, ctypes.POINTER(AttrOpts), ctypes.POINTER(Mege), _E]),
    "cb_attr_sanity": (_S, [_H, c_double_p, _Z, _I, ctypes.POINTER(AttrOpts), _I, _Z, ctypes.POINTER(Sanity), _E]),
    "cb_certificates_write_json": (_S, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p), _Z, _E]),
}


def _candidates():
    env = os.environ.get("CERBERE_LIB")
    if env:
        yield env, True
        return
    found = ctypes.util.find_library("cerbere")
    if found:
        yield found, False
    for prefix in ("/usr/local", "/usr"):
        yield os.path.join(prefix, "lib", "libcerbere.so.0"), False
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "..", "..", "build", "libcerbere.so.0"), False


def _load():
    tried = []
    for path, required in _candidates():
        if not required and os.path.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            if required:
                raise ImportError("cerbere: CERBERE_LIB=%s cannot be loaded: %s" % (path, e)) from None
            tried.append(path)
            continue
        for name, (res, args) in _PROTOS.items():
            try:
                f = getattr(lib, name)
            except AttributeError:
                raise ImportError("cerbere: %s has no %s (an older libcerbere?)" % (path, name)) from None
            f.restype = res
            f.argtypes = args
        return lib, path
    raise ImportError("cerbere: libcerbere.so not found (set CERBERE_LIB to its path, `make install` it, "
                      "or build it with `make` in the repository); tried: " + ", ".join(tried))


lib, lib_path = _load()


def check(status, err):
    """Raise CerbereError when status is not CB_OK."""
    if status != 0:
        name = lib.cb_status_name(status).decode()
        msg = err.msg.decode(errors="replace") or name
        raise CerbereError(status, name, msg)
