"""Call a learner's functions in an untrusted kernel and get plain data back (graded runs).

The grader never trusts the learner's kernel: it installs a small server there (:data:`SERVER`,
self-contained: it does not import ``nnbook.grading``) through ordinary execute requests, then
calls the learner's functions through it. Requests are JSON, base64-encoded, in the code of the
request; replies come back as one display output of type :data:`MIME`, whose JSON is
*validated* here: only

- arrays as bytes + dtype + shape (numeric and bool dtypes only, sizes capped),
- numbers, booleans, None, strings,
- tuples, lists and dicts (string keys) of these,
- an exception as (type name, message, the learner's line),
- an opaque handle for anything else (e.g. a forward's cache object), which stays in the kernel
  and can be passed back by id.

Each function is judged as it was judged: :meth:`KernelChannel.pin` keeps, in the kernel, a copy of
a learner's function as it is when its check starts (:func:`pinned_copy`: with a snapshot of its
globals, so that rebinding a helper later changes nothing either), and every call by name goes to
that copy; a name that was not defined when its check started stays undefined for later calls. A
function pinned by no check (a backward's forward whose own check never ran) is pinned at its first
call.

Anything else, a malformed reply, or no reply in time makes the call raise here, which the
checker reports as a failed case with the reason. After each call the post-call contents of the
array arguments are copied back into the caller's arrays (so in-place modification is detected
and in-place updates are visible), and ``numpy.random.Generator`` arguments travel as their
bit-generator state.

:class:`KernelChannel` does the calls; :func:`parse_checks` reads a test cell's
``check("id", fn[, forward], hidden=...)`` calls, which :mod:`nnbook.grading.grade` then runs with
:func:`nnbook.grading.judge.checker.evaluate` in its own process on proxies from the channel.
"""
import ast
import base64
import inspect
import json
import math
import re
import secrets
import textwrap
from dataclasses import dataclass

import numpy as np

MIME = "application/x-nnbook-reply"
MAX_REPLY_CHARS = 64_000_000        # JSON text of one reply
MAX_ARRAY_BYTES = 32_000_000        # one array
MAX_ITEMS = 10_000                  # elements of one tuple/list/dict
MAX_DEPTH = 12
MAX_STRING = 100_000
_DTYPE = re.compile(r"^[<>|=][biuf][1248]$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,79}$")
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")

def pinned_copy(fn):
    """``fn`` as it is now: a plain function is copied with a snapshot of its globals, in which the
    other functions of the same namespace (its helpers, and theirs) are copied the same way. Rebinding
    a name afterwards (the function itself, or a helper it calls) does not change the copy. Other
    callables are returned as they are (their name can still be rebound without effect).

    Self-contained (imports only the standard library): the kernel-side server uses this source too.
    """
    import types
    if not isinstance(fn, types.FunctionType):
        return fn
    namespace = fn.__globals__
    snapshot = dict(namespace)
    copies = {}

    def copy(f):
        if id(f) not in copies:
            g = types.FunctionType(f.__code__, snapshot, f.__name__, f.__defaults__, f.__closure__)
            g.__kwdefaults__ = dict(f.__kwdefaults__) if f.__kwdefaults__ else f.__kwdefaults__
            g.__dict__.update(f.__dict__)
            g.__qualname__, g.__doc__, g.__module__ = f.__qualname__, f.__doc__, f.__module__
            copies[id(f)] = g
        return copies[id(f)]
    for name, value in list(snapshot.items()):
        if isinstance(value, types.FunctionType) and value.__globals__ is namespace:
            snapshot[name] = copy(value)
    return copy(fn)


# The kernel-side server. Executed in the learner's namespace; defines __nnbook_rpc__ only.
SERVER = r'''
def __nnbook_install():
    import base64, json, linecache, os, re, sys
    import numpy
    from IPython.display import publish_display_data
    mime = "application/x-nnbook-reply"
    handles = {}
    pinned = {}
    ns = globals()
@PINNED_COPY@
    system = tuple(p for p in {sys.prefix, sys.base_prefix, sys.exec_prefix} if p)

    def dec(v):
        t = v["t"]
        if t == "a":
            a = numpy.frombuffer(base64.b64decode(v["b"]), dtype=numpy.dtype(v["d"]))
            return a.reshape(v["s"]).copy()
        if t == "g":
            return numpy.frombuffer(base64.b64decode(v["b"]), dtype=numpy.dtype(v["d"]))[0]
        if t == "n":
            return v["v"]
        if t == "f":
            return float(v["v"])
        if t in ("tuple", "list"):
            items = [dec(x) for x in v["v"]]
            return tuple(items) if t == "tuple" else items
        if t == "dict":
            return {k: dec(x) for k, x in zip(v["k"], v["v"])}
        if t == "h":
            return handles[v["id"]]
        if t == "rng":
            g = numpy.random.Generator(getattr(numpy.random, v["bg"])())
            g.bit_generator.state = v["state"]
            return g
        raise TypeError("unknown value " + repr(t))

    def enc(v, depth=0):
        if depth > 10:
            return handle(v)
        if isinstance(v, numpy.ndarray) and v.dtype.kind in "biuf" and type(v) is numpy.ndarray:
            a = numpy.ascontiguousarray(v)
            return {"t": "a", "d": a.dtype.str, "s": list(a.shape), "b": base64.b64encode(a.tobytes()).decode()}
        if v is None or type(v) in (bool, int, str):
            return {"t": "n", "v": v}
        if type(v) is float:
            return {"t": "f", "v": repr(v)}
        if isinstance(v, numpy.generic) and v.dtype.kind in "biuf":
            return {"t": "g", "d": v.dtype.str, "b": base64.b64encode(v.tobytes()).decode()}
        if type(v) in (tuple, list):
            return {"t": type(v).__name__, "v": [enc(x, depth + 1) for x in v]}
        if type(v) is dict and all(type(k) is str for k in v):
            return {"t": "dict", "k": list(v), "v": [enc(x, depth + 1) for x in v.values()]}
        return handle(v)

    def handle(v):
        i = len(handles) + 1
        handles[i] = v
        return {"t": "h", "id": i, "type": type(v).__name__}

    def walk(v, arrays, rngs):
        if isinstance(v, numpy.ndarray):
            arrays.append(v)
        elif isinstance(v, numpy.random.Generator):
            rngs.append(v)
        elif type(v) in (tuple, list):
            for x in v:
                walk(x, arrays, rngs)
        elif type(v) is dict:
            for x in v.values():
                walk(x, arrays, rngs)

    def where(exc):
        """The learner's innermost line that raised, and the shapes of the arrays named on it."""
        tb, last = exc.__traceback__, None
        while tb is not None:
            code_obj = tb.tb_frame.f_code
            if code_obj.co_name != "rpc" and not code_obj.co_filename.startswith(system) \
                    and os.sep + "nnbook" + os.sep not in code_obj.co_filename:
                last = tb
            tb = tb.tb_next
        if last is None:
            return {"where": "", "function": ""}
        frame, line = last.tb_frame, last.tb_lineno
        name = frame.f_code.co_name
        code = (linecache.getline(frame.f_code.co_filename, line) or "").strip()
        arrays = []
        for n in dict.fromkeys(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code)):
            try:
                v = frame.f_locals.get(n)
                if type(v) is numpy.ndarray and len(arrays) < 8:
                    arrays.append([n[:40], [int(d) for d in v.shape[:8]], str(v.dtype.name)[:20]])
            except Exception:
                pass
        return {"where": "line %d in %s" % (line, name) + (": " + code[:80] if code else ""), "function": name,
                "line": int(line), "code": code[:120], "arrays": arrays}

    def counting(fn, names):
        """While fn runs, count its calls of the functions ``names`` (a backward's forward; nnbook's
        numerical_gradient), wherever fn's globals hold them (whatever the name): ``(calls, restore)``."""
        calls = {}
        g = getattr(fn, "__globals__", None)
        if not names:
            return calls, lambda: None
        targets = {}
        for n in names:
            for f in (pinned.get(n), ns.get(n)):
                if hasattr(f, "__code__"):
                    targets[f.__code__] = n
        gradcheck = sys.modules.get("nnbook.gradcheck")
        numerical = getattr(gradcheck, "numerical_gradient", None)
        if hasattr(numerical, "__code__"):
            targets[numerical.__code__] = "numerical_gradient"
        if not isinstance(g, dict) or not targets:
            return calls, lambda: None
        swapped = {}

        def counted(f, n):
            def call(*a, **k):
                calls[n] = calls.get(n, 0) + 1
                return f(*a, **k)
            return call
        for key, value in list(g.items()):
            n = targets.get(getattr(value, "__code__", None))
            if n is not None:
                swapped[key] = value
                g[key] = counted(value, n)
        if gradcheck is not None and hasattr(numerical, "__code__"):
            swapped_module = numerical
            gradcheck.numerical_gradient = counted(numerical, "numerical_gradient")
        else:
            swapped_module = None

        def restore():
            g.update(swapped)
            if swapped_module is not None:
                gradcheck.numerical_gradient = swapped_module
        return calls, restore

    def rpc(request):
        req = json.loads(base64.b64decode(request))
        reply = {"nonce": req["nonce"]}
        try:
            if req.get("drop"):
                handles.clear()
            if req.get("pin"):                        # a check starts: keep its function as it is now
                found = ns.get(req["fn"])             # (or that there was none: None stays pinned)
                pinned[req["fn"]] = pinned_copy(found) if callable(found) else None
                reply.update(status="missing" if pinned[req["fn"]] is None else "pinned")
                publish_display_data({mime: json.dumps(reply)})
                return
            args, kwargs = dec(req["args"]), dec(req["kwargs"])
            arrays, rngs = [], []
            walk((args, kwargs), arrays, rngs)        # the arguments as passed: reported after the call
            if req["fn"] not in pinned and callable(ns.get(req["fn"])):
                pinned[req["fn"]] = pinned_copy(ns[req["fn"]])
            fn = pinned.get(req["fn"])
            if not callable(fn):
                reply.update(status="missing")
            else:
                calls, restore = counting(fn, req.get("count") or [])
                try:
                    result = fn(*args, **kwargs)
                    reply.update(status="ok", value=enc(result))
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:
                    line = str(exc).strip().splitlines()
                    reply.update(status="raised", type=type(exc).__name__, message=line[0][:200] if line else "",
                                 not_implemented=isinstance(exc, NotImplementedError), **where(exc))
                finally:
                    restore()
                reply["calls"] = calls
            reply["after"] = [enc(a) for a in arrays]
            reply["rngs"] = [g.bit_generator.state for g in rngs]
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            reply = {"nonce": req.get("nonce"), "status": "server", "message": type(exc).__name__ + ": " + str(exc)[:200]}
        publish_display_data({mime: json.dumps(reply)})

    ns["__nnbook_rpc__"] = rpc

    # a call's arguments travel in its code: skip what IPython and ipykernel do to a cell that only
    # costs time on megabytes of text (input transformers; ipykernel hashes every cell's source in
    # pure Python, about 1.5 s per MB). Other cells run as before.
    try:
        shell = get_ipython()
        transform, name_of = shell.transform_cell, shell.compile.get_code_name
        shell.transform_cell = lambda raw: raw if raw.startswith("__nnbook_rpc__(") else transform(raw)
        shell.compile.get_code_name = lambda raw, code, number: (
            "<nnbook-call>" if raw.startswith("__nnbook_rpc__(") else name_of(raw, code, number))
    except Exception:
        pass


__nnbook_install()
del __nnbook_install
'''.replace("@PINNED_COPY@", textwrap.indent(inspect.getsource(pinned_copy), "    "))


class ChannelError(Exception):
    """The kernel did not answer a call properly (no reply, a malformed reply, a dead kernel)."""


class NoReply(ChannelError):
    pass


class BadReply(ChannelError):
    pass


class KernelGone(ChannelError):
    pass


class CallTimeout(ChannelError):
    pass


class LearnerError(Exception):
    """An exception the learner's code raised in the kernel (its class is named like the original)."""


class LearnerNotImplemented(NotImplementedError):
    """The learner's function (or a helper it calls) still raises NotImplementedError."""

    def __init__(self, message, function=""):
        super().__init__(message)
        self.function = function


_ERROR_CLASSES = {}


def learner_error(type_name, message):
    """An exception whose class is named ``type_name`` (as the learner's was), carrying ``message``."""
    if not _NAME.match(type_name or ""):
        type_name = "Exception"
    cls = _ERROR_CLASSES.get(type_name)
    if cls is None:
        cls = _ERROR_CLASSES[type_name] = type(type_name.rsplit(".", 1)[-1], (LearnerError,), {})
    return cls(message)


@dataclass(frozen=True)
class RemoteObject:
    """An opaque value kept in the kernel (e.g. a cache object); passed back by id."""
    id: int
    type_name: str

    def __repr__(self):
        return f"<{self.type_name} in the learner's kernel>"


# ---------------------------------------------------------------------------------------------
# grader side: encoding of arguments, strict decoding of replies
def encode(value, depth=0):
    """Arguments of a call, as JSON-able data (only the kinds a case may hold)."""
    if depth > MAX_DEPTH:
        raise TypeError("arguments nested too deeply")
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"cannot send an array of dtype {value.dtype}")
        a = np.ascontiguousarray(value)
        return {"t": "a", "d": a.dtype.str, "s": list(a.shape), "b": base64.b64encode(a.tobytes()).decode()}
    if value is None or type(value) in (bool, int, str):
        return {"t": "n", "v": value}
    if isinstance(value, float) and not isinstance(value, np.generic):
        return {"t": "f", "v": repr(float(value))}
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return {"t": "g", "d": value.dtype.str, "b": base64.b64encode(value.tobytes()).decode()}
    if isinstance(value, (tuple, list)):
        return {"t": "tuple" if isinstance(value, tuple) else "list", "v": [encode(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("dict arguments need string keys")
        return {"t": "dict", "k": list(value), "v": [encode(v, depth + 1) for v in value.values()]}
    if isinstance(value, np.random.Generator):
        bg = type(value.bit_generator).__name__
        if bg not in _BIT_GENERATORS:
            raise TypeError(f"cannot send a {bg} generator")
        return {"t": "rng", "bg": bg, "state": value.bit_generator.state}
    if isinstance(value, RemoteObject):
        return {"t": "h", "id": value.id}
    raise TypeError(f"cannot send a {type(value).__name__} to the learner's kernel")


def _bad(why):
    raise BadReply(f"your kernel sent back something that is not plain data ({why})")


def _keys(value, allowed, required):
    if not isinstance(value, dict):
        _bad("not an object")
    extra = set(value) - set(allowed)
    if extra or not set(required) <= set(value):
        _bad("unexpected fields")


def _array_bytes(b64, nbytes_cap):
    if not isinstance(b64, str) or len(b64) > nbytes_cap * 4 // 3 + 8:
        _bad("array too large")
    try:
        return base64.b64decode(b64, validate=True)
    except Exception:
        _bad("bad array bytes")


def decode(value, depth=0):
    """A reply's value, validated: raises :class:`BadReply` for anything that is not plain data."""
    if depth > MAX_DEPTH:
        _bad("nested too deeply")
    if not isinstance(value, dict) or not isinstance(value.get("t"), str):
        _bad("not a tagged value")
    t = value["t"]
    if t == "a":
        _keys(value, ("t", "d", "s", "b"), ("t", "d", "s", "b"))
        d, s = value["d"], value["s"]
        if not isinstance(d, str) or not _DTYPE.match(d):
            _bad(f"dtype {str(d)[:20]!r}")
        if not isinstance(s, list) or len(s) > 8 or not all(type(n) is int and 0 <= n for n in s):
            _bad("shape")
        dtype = np.dtype(d)
        n = math.prod(s)
        if n * dtype.itemsize > MAX_ARRAY_BYTES:
            _bad("array too large")
        raw = _array_bytes(value["b"], MAX_ARRAY_BYTES)
        if len(raw) != n * dtype.itemsize:
            _bad("array size does not match its shape")
        return np.frombuffer(raw, dtype=dtype).reshape(s).copy()
    if t == "g":
        _keys(value, ("t", "d", "b"), ("t", "d", "b"))
        if not isinstance(value["d"], str) or not _DTYPE.match(value["d"]):
            _bad("dtype")
        dtype = np.dtype(value["d"])
        raw = _array_bytes(value["b"], 16)
        if len(raw) != dtype.itemsize:
            _bad("scalar size")
        return np.frombuffer(raw, dtype=dtype)[0]
    if t == "n":
        _keys(value, ("t", "v"), ("t", "v"))
        v = value["v"]
        if v is None or type(v) is bool:
            return v
        if type(v) is int:
            if abs(v) > 2 ** 63:
                _bad("integer too large")
            return v
        if type(v) is str:
            if len(v) > MAX_STRING:
                _bad("string too long")
            return v
        _bad("scalar")
    if t == "f":
        _keys(value, ("t", "v"), ("t", "v"))
        if not isinstance(value["v"], str) or len(value["v"]) > 40:
            _bad("float")
        try:
            return float(value["v"])
        except ValueError:
            _bad("float")
    if t in ("tuple", "list"):
        _keys(value, ("t", "v"), ("t", "v"))
        if not isinstance(value["v"], list) or len(value["v"]) > MAX_ITEMS:
            _bad("sequence")
        items = [decode(v, depth + 1) for v in value["v"]]
        return tuple(items) if t == "tuple" else items
    if t == "dict":
        _keys(value, ("t", "k", "v"), ("t", "k", "v"))
        k, v = value["k"], value["v"]
        if (not isinstance(k, list) or not isinstance(v, list) or len(k) != len(v) or len(k) > MAX_ITEMS
                or not all(isinstance(x, str) and len(x) <= 200 for x in k)):
            _bad("dict")
        return {key: decode(x, depth + 1) for key, x in zip(k, v)}
    if t == "h":
        _keys(value, ("t", "id", "type"), ("t", "id", "type"))
        if type(value["id"]) is not int or not isinstance(value["type"], str):
            _bad("handle")
        return RemoteObject(value["id"], value["type"][:80])
    _bad(f"kind {t[:20]!r}")


def _walk(value, arrays, rngs):
    """Arrays and generators inside arguments, in the order the server walks them."""
    if isinstance(value, np.ndarray):
        arrays.append(value)
    elif isinstance(value, np.random.Generator):
        rngs.append(value)
    elif isinstance(value, (tuple, list)):
        for v in value:
            _walk(v, arrays, rngs)
    elif isinstance(value, dict):
        for v in value.values():
            _walk(v, arrays, rngs)


def _copy_back(arrays, after):
    """Put the kernel's post-call contents of the array arguments into the local arrays."""
    if not isinstance(after, list) or len(after) != len(arrays):
        _bad("arguments after the call")
    for local, enc in zip(arrays, after):
        remote = decode(enc)
        if not isinstance(remote, np.ndarray):
            _bad("argument after the call")
        if remote.shape == local.shape and remote.dtype == local.dtype:
            if local.flags.writeable:
                local[...] = remote
        elif local.flags.writeable and local.dtype.kind == "f":
            local[...] = np.nan           # changed shape or dtype in place: certainly modified


# ---------------------------------------------------------------------------------------------
class KernelChannel:
    """Calls into one running kernel of an :class:`nbclient.NotebookClient` (see :mod:`.kernel`).

    ``run_code(source, timeout) -> (outputs, status)`` executes code in the kernel, where status
    is ``"ok"``, ``"error"``, ``"timeout"``, ``"dead"`` or ``"stuck"``.
    """

    def __init__(self, run_code):
        self.run_code = run_code
        self.installed = False
        self.gone = ""           # why the kernel can no longer be used
        self.budget = None
        self.timed_out = False
        self._drop = False
        self.pinned = set()      # names pinned by a check in this kernel
        self.calls = {}          # calls counted in the kernel (see function(count=...))

    def start_cell(self, seconds):
        """A new test cell: each call may take ``seconds``; after one call timed out, the cell's
        other calls fail at once. The kernel may forget the handles of earlier cells."""
        self.budget = seconds
        self.timed_out, self._drop = False, True

    def _remaining(self):
        if self.timed_out:
            raise CallTimeout(f"took longer than {self.budget:g} s")
        return self.budget or 60

    def _run(self, source):
        left = self._remaining()
        outputs, status = self.run_code(source, left)
        if status == "dead":
            self.gone = "the kernel died while running this cell"
            raise KernelGone(self.gone)
        if status in ("timeout", "stuck"):
            self.timed_out = True
            if status == "stuck":
                self.gone = "the kernel was stuck after a timeout"
            raise CallTimeout(f"took longer than {self.budget:g} s")
        return outputs, status

    def install(self):
        if not self.installed:
            self._run(SERVER)
            self.installed = True

    def pin(self, name):
        """A check of the learner's ``name`` starts: from now on, calls of ``name`` go to the function as
        it is now (see the module docstring). Returns False when the kernel has no such function."""
        if self.gone:
            raise KernelGone(self.gone)
        self.install()
        nonce = secrets.token_hex(8)
        blob = base64.b64encode(json.dumps({"nonce": nonce, "fn": name, "pin": True}).encode()).decode()
        outputs, _ = self._run(f"__nnbook_rpc__('{blob}')")
        reply = _find_reply(outputs, nonce)
        if reply is None or reply.get("status") not in ("pinned", "missing"):
            raise NoReply("your kernel sent no answer for this call (did a cell change how the kernel runs "
                          "code, or hide its output?)")
        self.pinned.add(name)
        return reply["status"] == "pinned"

    def call(self, name, args, kwargs, count=()):
        """Call ``name(*args, **kwargs)`` in the kernel (the function pinned for ``name``; see
        :meth:`pin`); returns the decoded value or raises. ``count``: names of functions whose calls
        during this one are counted in the kernel (into :attr:`calls`)."""
        if self.gone:
            raise KernelGone(self.gone)
        self.install()
        nonce = secrets.token_hex(8)
        request = {"nonce": nonce, "fn": name, "args": encode(tuple(args)), "kwargs": encode(dict(kwargs)),
                   "drop": self._drop, "count": list(count)}
        self._drop = False
        blob = base64.b64encode(json.dumps(request).encode()).decode()
        outputs, status = self._run(f"__nnbook_rpc__('{blob}')")
        reply = _find_reply(outputs, nonce)
        if reply is None:
            raise NoReply("your kernel sent no answer for this call (did a cell change how the kernel runs "
                          "code, or hide its output?)")
        kind = reply.get("status")
        if kind == "server":
            raise BadReply(f"the call could not be made in your kernel: {str(reply.get('message'))[:200]}")
        arrays, rngs = [], []
        _walk((tuple(args), dict(kwargs)), arrays, rngs)
        _copy_back(arrays, reply.get("after"))
        self._count_calls(reply.get("calls", {}))
        _set_rngs(rngs, reply.get("rngs"))
        if kind == "missing":
            raise learner_error("NameError", f"name '{name}' is not defined in your notebook")
        if kind == "raised":
            return _raise_learner(reply)
        if kind == "ok":
            return decode(reply.get("value"))
        _bad("status")

    def _count_calls(self, calls):
        if not isinstance(calls, dict) or len(calls) > 10 or not all(
                isinstance(k, str) and type(v) is int and v >= 0 for k, v in calls.items()):
            _bad("call counts")
        for k, v in calls.items():
            self.calls[k[:80]] = self.calls.get(k[:80], 0) + v

    def take_calls(self):
        """The calls counted in the kernel since the last time (``{function name: calls}``)."""
        calls, self.calls = self.calls, {}
        return calls

    def function(self, name, count=()):
        """A callable that forwards every call to the kernel's ``name``. With ``count``, the kernel counts
        how often each call calls those functions (and nnbook's numerical_gradient); the proxy's
        ``take_calls()`` returns the counts (a backward that calls its forward many times is
        differentiating it numerically)."""
        def proxy(*args, **kwargs):
            return self.call(name, args, kwargs, count)
        proxy.__name__ = proxy.__qualname__ = name
        if count:
            proxy.take_calls = self.take_calls
        return proxy


def _find_reply(outputs, nonce):
    found = None
    for out in outputs:
        if out.get("output_type") not in ("display_data", "execute_result"):
            continue
        text = (out.get("data") or {}).get(MIME)
        if not isinstance(text, str) or len(text) > MAX_REPLY_CHARS:
            continue
        try:
            reply = json.loads(text)
        except ValueError:
            continue
        if isinstance(reply, dict) and reply.get("nonce") == nonce:
            found = reply
    return found


def _set_rngs(rngs, states):
    if not isinstance(states, list) or len(states) != len(rngs):
        _bad("generators after the call")
    for g, state in zip(rngs, states):
        if not isinstance(state, dict) or state.get("bit_generator") != type(g.bit_generator).__name__:
            _bad("generator state")
        try:
            g.bit_generator.state = state
        except Exception:
            _bad("generator state")


def _raise_learner(reply):
    for key in ("type", "message", "where", "function"):
        if not isinstance(reply.get(key, ""), str):
            _bad("exception")
    message = reply.get("message", "")[:150]
    where = reply.get("where", "")[:160]
    text = message + (f" ({where})" if where else "")
    if reply.get("not_implemented") is True:
        raise LearnerNotImplemented(text, reply.get("function", "")[:80])
    error = learner_error(reply.get("type", "Exception"), text)
    error.facts = _facts(reply, message)
    raise error


def _facts(reply, message):
    """The :class:`~nnbook.grading.judge.errors.ErrorFacts` the kernel sent with an exception (plain data,
    checked; what does not fit is left out: it only feeds the learner's own feedback)."""
    from ..judge.errors import ErrorFacts
    line, code, arrays = reply.get("line", 0), reply.get("code", ""), reply.get("arrays", [])
    if type(line) is not int or not isinstance(code, str):
        line, code = 0, ""
    found = []
    if isinstance(arrays, list):
        for item in arrays[:8]:
            if (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str) and isinstance(item[2], str)
                    and isinstance(item[1], list) and len(item[1]) <= 8
                    and all(type(d) is int and 0 <= d < 2 ** 40 for d in item[1])):
                found.append((item[0][:40], tuple(item[1]), item[2][:20]))
    return ErrorFacts(str(reply.get("type", "Exception"))[:60], message, line if line > 0 else 0,
                      reply.get("function", "")[:80] if line else "", code[:120], tuple(found))


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckCall:
    """One ``check("exercise", fn[, forward], hidden=...)`` of a test cell."""
    exercise: str
    fn: str
    forward: str = None
    hidden: bool = False


class TestCellFormatError(ValueError):
    """A solution test cell the grader cannot run outside the kernel."""


def parse_checks(source, where="test cell"):
    """The ``check(...)`` calls of a test cell, in order. Anything else in the cell is an error:
    graded test cells are run by the grader, not in the learner's kernel."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise TestCellFormatError(f"{where}: not valid Python ({exc.msg})") from None
    checks = []
    for node in tree.body:
        call = node.value if isinstance(node, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "check"):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                continue                  # e.g. 'from nnbook.grading import check'
            raise TestCellFormatError(f"{where}: only check(...) calls can be graded, found "
                                      f"{ast.unparse(node)[:60]!r}")
        args = call.args
        if not (1 <= len(args) <= 3 and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str)
                and all(isinstance(a, ast.Name) for a in args[1:])):
            raise TestCellFormatError(f"{where}: expected check('id', fn[, forward]), got {ast.unparse(call)[:80]!r}")
        hidden = False
        for kw in call.keywords:
            if kw.arg != "hidden" or not isinstance(kw.value, ast.Constant) or not isinstance(kw.value.value, bool):
                raise TestCellFormatError(f"{where}: unsupported argument in {ast.unparse(call)[:80]!r}")
            hidden = kw.value.value
        if len(args) < 2:
            raise TestCellFormatError(f"{where}: check needs the learner's function: {ast.unparse(call)[:80]!r}")
        checks.append(CheckCall(args[0].value, args[1].id, args[2].id if len(args) > 2 else None, hidden))
    if not checks:
        raise TestCellFormatError(f"{where}: no check(...) call")
    return checks
