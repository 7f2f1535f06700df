"""Writes small .pdparams pickles the way paddle.save does, for protocols 2-5
and numpy 1.x / 2.x module paths, without needing numpy: stand-in modules
are registered under numpy's names so CPython's own pickler emits exactly
the globals and opcodes numpy's __reduce__/__reduce_ex__ produce.

Run from convert/testdata: python3 gen_pickles.py
"""
import pickle
import struct
import sys
import types


def install(core):
    np = types.ModuleType("numpy")
    sub = types.ModuleType("numpy." + core)
    ma = types.ModuleType("numpy.%s.multiarray" % core)
    nu = types.ModuleType("numpy.%s.numeric" % core)

    class ndarray:
        pass

    class dtype:
        def __init__(self, s, byteorder="<"):
            self.s, self.byteorder = s, byteorder

        def __reduce__(self):
            return (dtype, (self.s, False, True),
                    (3, self.byteorder, None, None, None, -1, -1, 0))

    def _reconstruct(*a):
        raise RuntimeError("never called")

    def _frombuffer(*a):
        raise RuntimeError("never called")

    ndarray.__module__ = dtype.__module__ = "numpy"
    dtype.__qualname__ = "dtype"
    ndarray.__qualname__ = "ndarray"
    _reconstruct.__module__ = ma.__name__
    _reconstruct.__qualname__ = "_reconstruct"
    _frombuffer.__qualname__ = "_frombuffer"
    _frombuffer.__module__ = nu.__name__
    np.ndarray, np.dtype = ndarray, dtype
    ma._reconstruct = _reconstruct
    nu._frombuffer = _frombuffer
    setattr(np, core, sub)
    sub.multiarray, sub.numeric = ma, nu
    for m in (np, sub, ma, nu):
        sys.modules[m.__name__] = m
    return np, ma, nu


class Array:
    """A float array that pickles as numpy does."""

    def __init__(self, mods, shape, values, code="f4", fortran=False, order="<"):
        self.np, self.ma, self.nu = mods
        self.shape, self.code, self.fortran, self.order = shape, code, fortran, order
        fmt = {"f2": "e", "f4": "f", "f8": "d"}[code]
        self.raw = struct.pack(order + fmt * len(values), *values)

    def __reduce_ex__(self, proto):
        dt = self.np.dtype(self.code, self.order)
        if proto >= 5 and not self.fortran:
            return (self.nu._frombuffer,
                    (pickle.PickleBuffer(bytearray(self.raw)), dt, self.shape, "C"))
        return (self.ma._reconstruct, (self.np.ndarray, (0,), b"b"),
                (1, self.shape, dt, self.fortran, self.raw))


def state(mods, prefix="", code="f4"):
    vals = [1.5, -2.25, 3.0, 0.125, 65504.0, -0.0]
    return {
        prefix + "fc.weight": Array(mods, (2, 3), vals, code),
        # Column-major [[1,2,3],[4,5,6]] is stored 1,4,2,5,3,6.
        prefix + "fc.bias": Array(mods, (2, 3), [1, 4, 2, 5, 3, 6], code, fortran=True),
        prefix + "scalar": Array(mods, (), [7.0], code),
        prefix + "big": Array(mods, (2,), [1.0, 2.0], code, order=">"),
        "StructuredToParameterName@@": {prefix + "fc.weight": "linear_0.w_0"},
    }


def main():
    cases = [
        ("core", 2, "", "f4"), ("core", 3, "", "f4"), ("core", 4, "base_model.", "f4"),
        ("_core", 4, "backbone.", "f2"), ("_core", 5, "student.", "f8"), ("core", 5, "", "f4"),
    ]
    for core, proto, prefix, code in cases:
        mods = install(core)
        name = "np%s_p%d_%s.pdparams" % ("2" if core == "_core" else "1", proto, code)
        with open(name, "wb") as f:
            pickle.dump(state(mods, prefix, code), f, protocol=proto)
        print(name)
    # Malicious: os.system and builtins.eval.
    with open("evil_os_system.pdparams", "wb") as f:
        f.write(b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.")
    with open("evil_eval.pdparams", "wb") as f:
        f.write(b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94\x8c\x011\x94\x85\x94R\x94.")


main()
