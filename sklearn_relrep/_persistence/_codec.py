"""Values of parameters and fitted state as JSON, with numeric arrays set aside.

:func:`encode` turns a value into JSON-able data; every numeric array goes into
an ``arrays`` dict (later one safetensors file) and leaves a reference behind.
:func:`decode` is its strict inverse: it accepts exactly the forms ``encode``
writes, follows at most :data:`MAX_DEPTH` levels, and raises ``ValueError``
naming the position in the config for anything else. Nothing is ever imported
or called by name except the fixed torch classes of :data:`TORCH_CLASSES`.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
import torch

from .._layout import SubspaceLayout

__all__ = ["MAX_DEPTH", "TORCH_CLASSES", "decode", "encode"]

MAX_DEPTH = 32
_MAX_STRING_PAD = 256  # widest fixed-width string dtype accepted beyond the data
_SCALAR_DTYPES = frozenset(
    {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"}
    | {"uint64", "float16", "float32", "float64"}
)
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
# Classes a parameter may hold (skorch-style ``optimizer=torch.optim.RMSprop``):
# torch's optimizers and loss modules, stored by name and looked up here only.
TORCH_CLASSES = {
    f"{namespace.__name__}.{name}": cls
    for namespace, base in ((torch.optim, torch.optim.Optimizer), (torch.nn, None))
    for name, cls in vars(namespace).items()
    if isinstance(cls, type)
    and (
        issubclass(cls, base)
        if base is not None
        else issubclass(cls, torch.nn.Module) and name.endswith("Loss")
    )
}
_CLASS_NAMES = {cls: name for name, cls in TORCH_CLASSES.items()}


def _unsaveable(value, where: str, reason: str) -> TypeError:
    return TypeError(
        f"{where} is a {type(value).__name__}, which cannot be saved without "
        f"pickle: {reason}. Use joblib.dump for such models."
    )


def encode(value, where: str, arrays: dict, nested=None):
    """JSON-able form of ``value``; numeric arrays go to ``arrays``.

    ``where`` names the value (e.g. ``"model.state.anchors_"``); it becomes the
    array's name in the weights file and appears in error messages. ``nested``,
    if given, is called as ``nested(value, where)`` on every value that is not
    plain data and returns its JSON form (an estimator) or None. Dict entries
    are visited in key order, the order in which :func:`decode` reads them.
    """
    if isinstance(value, np.generic) and value.dtype.name in _SCALAR_DTYPES:
        number = encode(value.item(), where, arrays)
        return {"__scalar__": number, "dtype": value.dtype.name}
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Integral) and not isinstance(value, np.generic):
        return int(value)
    if isinstance(value, float) and not isinstance(value, np.generic):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, SubspaceLayout):
        return {
            "__layout__": {"names": list(value.names), "widths": list(value.widths)}
        }
    if isinstance(value, list | tuple):
        items = [encode(v, f"{where}.{i}", arrays, nested) for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise _unsaveable(value, where, "only dicts with string keys can")
        return {
            "__dict__": {
                k: encode(value[k], f"{where}.{k}", arrays, nested)
                for k in sorted(value)
            }
        }
    if isinstance(value, np.ndarray):
        return _encode_array(value, where, arrays)
    if _is_data_frame(value) and all(isinstance(c, str) for c in value.columns):
        values = _encode_array(value.to_numpy(), f"{where}.values", arrays)
        return {"__frame__": {"columns": list(value.columns), "values": values}}
    if isinstance(value, type) and value in _CLASS_NAMES:
        return {"__class__": _CLASS_NAMES[value]}
    form = nested(value, where) if nested is not None else None
    if form is not None:
        return form
    if callable(value):
        raise _unsaveable(value, where, "a callable cannot be stored without pickle")
    raise _unsaveable(
        value,
        where,
        "the safe format stores only numbers, strings, numeric and string arrays, "
        "data frames of numbers, layouts, and torch optimizer or loss classes",
    )


def _is_data_frame(value) -> bool:
    cls = type(value)
    return cls.__module__.startswith("pandas") and cls.__name__ == "DataFrame"


def _encode_array(array: np.ndarray, where: str, arrays: dict):
    if array.dtype.kind in "biuf" and array.dtype.name in _SCALAR_DTYPES:
        name = where if where not in arrays else f"{where}#{len(arrays)}"
        arrays[name] = np.ascontiguousarray(array, array.dtype.newbyteorder("="))
        reference = {"__array__": name}
        if array.ndim > 1 and array.flags.f_contiguous and not array.flags.c_contiguous:
            reference["order"] = "F"
        return reference
    if (
        array.dtype.kind in "UO"
        and array.ndim == 1
        and all(isinstance(v, str) for v in array)
    ):
        kind = "O" if array.dtype.kind == "O" else f"U{array.dtype.itemsize // 4}"
        return {"__strings__": array.tolist(), "dtype": kind}
    raise _unsaveable(
        array,
        where,
        f"an array of dtype {array.dtype} and shape {array.shape} is neither "
        "numeric nor a 1-D array of strings",
    )


def _is_one_of(value, options) -> bool:
    """``value in options``, also for unhashable values read from the config."""
    return isinstance(value, str) and value in options


def _expect(condition: bool, where: str, problem: str) -> None:
    if not condition:
        raise ValueError(f"{where}: {problem}.")


def decode(value, where: str, arrays: dict, used: set, depth: int = 0, nested=None):
    """The value that :func:`encode` turned into ``value``.

    ``used`` collects the names of the arrays taken from ``arrays``; an array may
    be referenced once only, so that no two attributes share memory. ``nested``
    (the inverse of ``encode``'s) maps the markers in its ``markers`` attribute
    to values, as ``nested(value, where, depth)``; without it they are refused.
    """
    _expect(depth <= MAX_DEPTH, where, f"nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [
            decode(v, f"{where}.{i}", arrays, used, depth + 1, nested)
            for i, v in enumerate(value)
        ]
    _expect(isinstance(value, dict), where, f"unexpected {type(value).__name__}")
    marker = next((k for k in value if k.startswith("__")), None)
    if nested is not None and marker in nested.markers:
        return nested(value, where, depth + 1)
    _expect(
        marker in _DECODERS,
        where,
        f"an object with keys {sorted(value)[:5]} is none of the stored forms",
    )
    return _DECODERS[marker](value, where, arrays, used, depth + 1, nested)


def _keys(value: dict, where: str, *expected: str, optional: tuple = ()) -> None:
    keys = set(value)
    _expect(
        set(expected) <= keys <= set(expected) | set(optional),
        where,
        f"expected the keys {sorted(expected)}, got {sorted(keys)[:5]}",
    )


def _decode_tuple(value, where, arrays, used, depth, nested):
    _keys(value, where, "__tuple__")
    items = value["__tuple__"]
    _expect(isinstance(items, list), where, "a tuple must hold a list")
    return tuple(decode(items, where, arrays, used, depth, nested))


def _decode_dict(value, where, arrays, used, depth, nested):
    _keys(value, where, "__dict__")
    items = value["__dict__"]
    _expect(isinstance(items, dict), where, "a dict entry must hold an object")
    return {
        k: decode(v, f"{where}.{k}", arrays, used, depth, nested)
        for k, v in items.items()
    }


def _decode_array(value, where, arrays, used, depth, nested):
    _keys(value, where, "__array__", optional=("order",))
    name, order = value["__array__"], value.get("order", "C")
    _expect(
        isinstance(name, str) and name in arrays,
        where,
        f"no array {name!r} in the weights file",
    )
    _expect(name not in used, where, f"the array {name!r} is referenced twice")
    _expect(order in ("C", "F"), where, f"unknown array order {order!r}")
    used.add(name)
    return np.array(arrays[name], copy=True, order=order)


def _decode_strings(value, where, arrays, used, depth, nested):
    _keys(value, where, "__strings__", "dtype")
    strings, kind = value["__strings__"], value["dtype"]
    _expect(
        isinstance(strings, list) and all(isinstance(s, str) for s in strings),
        where,
        "a string array must hold a list of strings",
    )
    if kind == "O":
        return np.asarray(strings, dtype=object)
    longest = max(map(len, strings), default=0)
    width = kind[1:] if isinstance(kind, str) and kind.startswith("U") else ""
    _expect(
        width.isdecimal() and longest <= int(width) <= max(longest, _MAX_STRING_PAD),
        where,
        f"{kind!r} is not a string dtype that fits these strings",
    )
    return np.asarray(strings, dtype=f"U{int(width)}")


def _decode_scalar(value, where, arrays, used, depth, nested):
    _keys(value, where, "__scalar__", "dtype")
    number, dtype = (
        decode(value["__scalar__"], where, arrays, used, depth),
        value["dtype"],
    )
    _expect(
        _is_one_of(dtype, _SCALAR_DTYPES), where, f"unsupported scalar dtype {dtype!r}"
    )
    _expect(
        isinstance(number, bool | int | float),
        where,
        f"a {dtype} scalar must hold a number",
    )
    try:
        scalar = np.dtype(dtype).type(number)
    except (OverflowError, ValueError, TypeError):
        scalar = None
    _expect(
        scalar is not None
        and (scalar == number or (isinstance(number, float) and math.isnan(number))),
        where,
        f"{number!r} does not fit in {dtype}",
    )
    return scalar


def _decode_float(value, where, arrays, used, depth, nested):
    _keys(value, where, "__float__")
    _expect(_is_one_of(value["__float__"], _NON_FINITE), where, "unknown special float")
    return _NON_FINITE[value["__float__"]]


def _decode_layout(value, where, arrays, used, depth, nested):
    _keys(value, where, "__layout__")
    fields = value["__layout__"]
    _expect(isinstance(fields, dict), where, "a layout must hold an object")
    _keys(fields, where, "names", "widths")
    names, widths = fields["names"], fields["widths"]
    _expect(
        isinstance(names, list) and isinstance(widths, list),
        where,
        "layout fields must be lists",
    )
    try:
        return SubspaceLayout(tuple(names), tuple(widths))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from exc


def _decode_frame(value, where, arrays, used, depth, nested):
    _keys(value, where, "__frame__")
    fields = value["__frame__"]
    _expect(isinstance(fields, dict), where, "a data frame must hold an object")
    _keys(fields, where, "columns", "values")
    columns = fields["columns"]
    values = decode(fields["values"], where, arrays, used, depth)
    _expect(
        isinstance(columns, list)
        and all(isinstance(c, str) for c in columns)
        and isinstance(values, np.ndarray)
        and values.ndim == 2
        and values.shape[1] == len(columns),
        where,
        "a data frame needs one string column name per column of a 2-D array",
    )
    import pandas as pd

    return pd.DataFrame(values, columns=columns)


def _decode_class(value, where, arrays, used, depth, nested):
    _keys(value, where, "__class__")
    name = value["__class__"]
    _expect(
        _is_one_of(name, TORCH_CLASSES),
        where,
        f"{name!r} is not an allowed torch class",
    )
    return TORCH_CLASSES[name]


_DECODERS = {
    "__tuple__": _decode_tuple,
    "__dict__": _decode_dict,
    "__array__": _decode_array,
    "__strings__": _decode_strings,
    "__scalar__": _decode_scalar,
    "__float__": _decode_float,
    "__layout__": _decode_layout,
    "__class__": _decode_class,
    "__frame__": _decode_frame,
}
