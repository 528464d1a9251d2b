"""The only propgrade code that runs beside student code.

``Executor`` holds a submission's namespace and answers requests with plain
data: it calls the student's names, keeps the student's models behind integer
handles, and describes whatever comes back. It decides nothing: every verdict
is made by the parent from these answers. Run as a script, this module is the
worker process: it hides the grader from the submission, then serves requests
read from one pipe and answers on another.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import os
import sys
import time
import traceback

if __name__ == "__main__":  # a worker: find the wire format beside this file, then forget the path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from grader import wire
    from grader.sandbox import namespaces

    del sys.path[0]
else:
    from grader import wire
    from grader.sandbox import namespaces

import torch
from torch import nn

GRADER_PACKAGES = ("grader", "reference", "propgrade")
TRACEBACK_LINES = 6

# What the Executor uses to look at student values, taken before any student code runs: rebinding
# ``torch.Tensor.as_subclass`` or ``nn.Module.get_submodule`` later changes nothing here. This stops
# casual patching only; code that walks ``gc`` to the Executor can still rebind these. What makes
# that not pay is that no verdict rests on the worker's word alone: a property checks what comes
# back against its own formula on inputs it chose (see ``Executor``).
_as_subclass = torch.Tensor.as_subclass
_detach = torch.Tensor.detach
_clone = torch.Tensor.clone
_to = torch.Tensor.to
_mul = torch.mul
_Tensor = torch.Tensor
_Module = nn.Module
_get_submodule = nn.Module.get_submodule
_setattr = setattr
_isinstance = isinstance
_no_grad = torch.no_grad
try:  # PyTorch's fake tensors: they report a device and hold no data (the second device probe, grader/properties/devices.py)
    from torch._subclasses.fake_tensor import FakeTensor as _FakeTensor, FakeTensorMode as _FakeTensorMode

    class _ProbeMode(_FakeTensorMode):
        """Fake tensors that never touch a real device, whether or not this process has an accelerator:
        ``torch.tensor(data, device=...)`` is made on the CPU and moved as a fake tensor, never copied for real."""

        @property
        def avoid_device_init(self) -> bool:
            return True
except ImportError:  # pragma: no cover - older PyTorch: the fake probe raises, so its property says why
    _FakeTensor = _ProbeMode = None

FAKE = "fake:"  # a request's device "fake:lazy:0": fake tensors that report lazy:0


def qualified_type(value) -> str:
    kind = type(value)
    module = kind.__module__
    return kind.__qualname__ if module in ("builtins", "__main__", "submission") else f"{module}.{kind.__qualname__}"


def short_error(error: BaseException, filename: str | None = None) -> dict:
    """The exception as a student should see it: type, message, and the student's own frames."""
    frames = traceback.extract_tb(error.__traceback__)
    grader = os.path.dirname(os.path.abspath(__file__)) + os.sep  # no frame of the grader's own files is the student's
    own = [f for f in frames if not f.filename.startswith(grader) and "site-packages" not in f.filename]
    own = own or [f for f in frames[-1:] if not f.filename.startswith(grader)]
    line = None
    if isinstance(error, SyntaxError):
        line = error.lineno
    elif own:
        line = own[-1].lineno
    lines = traceback.format_list(own[-TRACEBACK_LINES:])
    return {
        "type": type(error).__name__,
        "message": str(error)[:2000],
        "line": line,
        "traceback": "".join(lines)[-4000:],
    }


class RanOutOfTime(BaseException):
    """Raised inside a cell or module that passed its time limit, so its earlier definitions survive."""


def reseed(seed: int) -> None:
    """``torch.manual_seed`` for a worker that builds many models: where CUDA is not initialised,
    ``manual_seed`` records a stack trace per device kind to replay on initialisation, which costs
    more than building the model."""
    torch.default_generator.manual_seed(seed)
    if torch.cuda.is_initialized():
        torch.cuda.manual_seed_all(seed)


def soft_limit(seconds: float | None):
    """Interrupt the running code after ``seconds`` with RanOutOfTime (POSIX; the parent's hard deadline backs it up)."""
    import contextlib
    import signal

    if not seconds or not hasattr(signal, "setitimer"):
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def limit():
        def interrupt(signum, frame):
            raise RanOutOfTime(f"ran for more than {seconds:g} s")

        previous = signal.signal(signal.SIGALRM, interrupt)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    return limit()


class StudentRaised(Exception):
    """Student code raised while answering a request."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


def scaled_identity(factor: float) -> nn.Module:
    """A layer computing ``factor * x``, of a class made now under a random name: a probe no
    submission can name in advance (``nn.Identity`` could be recognised and special-cased)."""
    name = "_" + os.urandom(8).hex()

    def forward(self, x):
        return _mul(x, factor)

    return type(name, (_Module,), {"forward": forward, "__module__": name, "__qualname__": name})()


class Executor:
    """Runs a submission and answers requests about the names it defines.

    Everything here shares a process with student code, which can rebind any function
    this class calls, even its own methods (found through ``gc``). So its answers are
    observations for the parent to check, never verdicts: a layer's kind is judged by
    what it computes on the parent's inputs, a saved file is read by the parent in a
    clean process (``grader.clean_reader``), a round trip by the outputs it restores.
    """

    def __init__(self, namespace: dict | None = None, scratch_dir: str = "."):
        self.namespace = namespace if namespace is not None else {"__name__": "submission"}
        self.scratch_dir = scratch_dir
        self.models: dict[int, nn.Module] = {}
        self.files: dict[int, str] = {}
        self._handles = itertools.count(1)
        self._shell = None
        self._fake_mode = None
        self._faking = False

    # -- running the submission -------------------------------------------------

    def op_run_module(self, source: str, filename: str, seconds: float | None = None) -> dict:
        started = time.perf_counter()
        self.namespace.update({"__name__": "submission", "__file__": filename})
        try:
            code = compile(source, filename, "exec")
            with soft_limit(seconds):
                exec(code, self.namespace)
        except BaseException as error:  # noqa: BLE001 - SystemExit included: the module still ran so far
            return {"ok": False, "error": short_error(error), "seconds": time.perf_counter() - started}
        return {"ok": True, "seconds": time.perf_counter() - started}

    def op_run_cell(self, source: str, index: int, seconds: float | None = None) -> dict:
        """Run one notebook cell with IPython's own semantics (magics, ``!`` lines, display)."""
        started = time.perf_counter()
        shell = self._ipython()
        try:
            with soft_limit(seconds):
                result = shell.run_cell(source, store_history=False, silent=False)
        except BaseException as error:  # noqa: BLE001 - SystemExit from a cell
            return {"ok": False, "error": short_error(error), "seconds": time.perf_counter() - started}
        error = result.error_before_exec or result.error_in_exec
        outcome = {"ok": error is None, "seconds": time.perf_counter() - started}
        if error is not None:
            outcome["error"] = short_error(error)
        return outcome

    def _ipython(self):
        if self._shell is None:
            from IPython.core.interactiveshell import InteractiveShell

            self._shell = InteractiveShell.instance(user_ns=self.namespace)
            self._shell.enable_gui = lambda gui=None: None  # no event loop here; %matplotlib inline still works
            self._shell.display_formatter.active_types = ["text/plain"]  # nobody sees a figure here: never render one
            self._shell.system = self._shell.system_raw  # `!cmd` straight to this output: no pseudo-terminal (0.1 s per command to close)
            self._shell.showtraceback = lambda *args, **kwargs: None
            self._shell.showsyntaxerror = lambda *args, **kwargs: None
            self.namespace.setdefault("__name__", "submission")
        return self._shell

    # -- what the submission defines --------------------------------------------

    def op_names(self, names: list[str]) -> dict:
        found = {}
        for name in names:
            if name not in self.namespace:
                continue
            value = self.namespace[name]
            if isinstance(value, type):
                kind = "class"
            elif isinstance(value, nn.Module):
                kind = "module"
            elif callable(value):
                kind = "function"
            else:
                kind = "value"
            found[name] = {"kind": kind, "type": qualified_type(value)}
        return found

    # -- calling student code ---------------------------------------------------

    def op_call(self, name: str, args: list, device: str | None = None, return_args: bool = False) -> dict:
        function = self._lookup(name)
        with self._on(device) as device:
            live = [self._arg(arg, device) for arg in args]
            result = self._student(function, *live)
        answer = {"result": self.describe(result)}
        if return_args:  # the arguments' own bytes after the call, copied through the captured functions
            answer["args"] = [self.describe(_clone(_detach(_as_subclass(arg, _Tensor)))) if _isinstance(arg, _Tensor) else self.describe(arg)
                              for arg in live]
        return answer

    def op_grad(self, name: str, z, device: str | None = None) -> dict:
        """Value and autograd gradient of a scalar sum of ``name(z)``, elementwise in ``z``."""
        z = self._arg(z, device).detach().requires_grad_(True)
        out = self._student(self._lookup(name), z)
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            return {"result": self.describe(out), "grad": None}
        self._student(lambda: torch.Tensor.backward(out.sum()))
        return {"result": self.describe(out.detach()), "grad": self.describe(z.grad)}

    def op_new(self, name: str, args: list, seed: int = 0) -> dict:
        """A fresh model: a class called with ``args``, or a copy of an instance.

        Built from a seeded random state, so that Hypothesis replaying an
        example gets the same initial weights (and the same verdict).
        """
        value = self._lookup(name)
        reseed(seed)
        if isinstance(value, nn.Module):
            model = self._student(copy.deepcopy, value)
        else:
            model = self._student(value, *[self._arg(arg, None) for arg in args])
        return self.describe(model)

    def op_stack(self, layers: list[dict]) -> dict:
        """An ``nn.Sequential`` holding exactly the given Linear weights (and Tanh where asked)."""
        modules = []
        for layer in layers:
            if layer.get("activation") == "tanh":
                modules.append(nn.Tanh())
                continue
            weight, bias = layer["weight"], layer.get("bias")
            linear = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None, dtype=weight.dtype)
            with torch.no_grad():
                linear.weight.copy_(weight)
                if bias is not None:
                    linear.bias.copy_(bias)
            modules.append(linear)
        return self.describe(nn.Sequential(*modules))

    # -- models behind handles ---------------------------------------------------

    def op_forward(self, ref: int, x, device: str | None = None, path: str = "") -> dict:
        """``model(x)``, or the submodule at ``path`` applied to ``x``."""
        model = self.models[ref]
        module = self._student(_get_submodule, model, path) if path else model
        with self._on(device) as device:
            result = self._student(module, self._arg(x, device))
        return {"result": self.describe(result)}

    def op_describe(self, ref: int) -> dict:
        return self.structure(self.models[ref])

    def op_state_dict(self, ref: int) -> dict:
        state = self._student(self.models[ref].state_dict)
        return {"result": self.describe(dict(state))}

    def op_load_state_dict(self, ref: int, state: dict) -> dict:
        model = self.models[ref]
        self._student(model.load_state_dict, state, True)
        return {}

    def op_replace(self, ref: int, path: str, replacement: str, factor: float = 1.0) -> dict:
        """Swap one submodule (for example the Tanh) for ``nn.Identity`` or a fresh ``scaled_identity``."""
        if replacement == "identity":
            module = nn.Identity()
        elif replacement == "scaled":
            module = scaled_identity(float(factor))
        else:
            raise ValueError(f"unknown replacement {replacement!r}")
        model = self.models[ref]
        parent_path, _, child = path.rpartition(".")
        parent = self._student(_get_submodule, model, parent_path) if parent_path else model
        self._student(_setattr, parent, child, module)
        return {}

    def op_to(self, ref: int, device: str) -> dict:
        with self._on(device) as device:
            model = self._student(self.models[ref].to, device)
        return {"result": self.describe(model), "same": model is self.models[ref]}

    def op_fit(self, ref: int, x, y, epochs: int, lr: float) -> dict:
        """propgrade's fixed training loop, the same for every subject: BCE with logits, full-batch SGD.

        The step is plain SGD written out (``p -= lr * p.grad``, the very operation ``torch.optim.SGD``
        performs without momentum or weight decay): the same numbers, a quarter faster on the
        lesson's tiny networks, where the optimiser's bookkeeping costs as much as the maths."""
        model = self.models[ref]
        parameters = [p for p in model.parameters() if p.requires_grad]
        loss_fn = nn.BCEWithLogitsLoss()
        losses = []

        def loop():
            for _ in range(epochs):
                for parameter in parameters:
                    parameter.grad = None
                loss = loss_fn(model(x), y)
                loss.backward()
                with torch.no_grad():
                    for parameter in parameters:
                        if parameter.grad is not None:
                            parameter.add_(parameter.grad, alpha=-lr)
                losses.append(loss.item())

        self._student(loop)
        return {"losses": losses}

    def op_scratch_path(self, suffix: str) -> dict:
        """A fresh file name in the worker's own directory, for ``save_params``."""
        handle = next(self._handles)
        self.files[handle] = os.path.abspath(os.path.join(self.scratch_dir, f"propgrade-{handle}{suffix}"))
        return {"file": handle, "path": self.files[handle]}

    def op_read_weights(self, file: int) -> dict:
        """What ``torch.load(path, weights_only=True)`` makes of a file, described as plain data."""
        path = self.files[file]
        if not os.path.exists(path):
            return {"exists": False}
        try:
            loaded = torch.load(path, weights_only=True, map_location="cpu")
        except Exception as error:  # noqa: BLE001 - any failure is the answer
            return {"exists": True, "error": short_error(error)}
        return {"exists": True, "result": self.describe(loaded)}

    def op_mark_output(self, token: str) -> dict:
        """Write the controller's token after everything printed so far (it cuts the output there)."""
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a stream the submission replaced or closed
                pass
        os.write(1, token.encode())
        return {}

    def op_drop(self, ref: int) -> dict:
        self.models.pop(ref, None)
        return {}

    def forget(self) -> None:
        """A new example begins: earlier models and files go, and handles count from 1 again."""
        self.models.clear()
        self.files.clear()
        self._handles = itertools.count(1)
        self._fake_mode = None

    # -- helpers ----------------------------------------------------------------

    @contextlib.contextmanager
    def _on(self, device):
        """The device a request's tensors go to, as it is; for ``fake:<device>``, ``<device>`` with the request
        run under the executor's ``FakeTensorMode`` and without autograd: its inputs (and every tensor made
        meanwhile) are fake tensors that report that device and refuse data access. The mode stays the same
        until the next example, so a model moved in one request computes in the next."""
        if not (_isinstance(device, str) and device.startswith(FAKE)):
            yield device
            return
        if _ProbeMode is None:
            raise RuntimeError("this PyTorch has no fake tensors")
        if self._fake_mode is None:
            self._fake_mode = _ProbeMode(allow_non_fake_inputs=True)
        self._faking = True
        try:
            with _no_grad(), self._fake_mode:
                yield device[len(FAKE):]
        finally:
            self._faking = False

    def _lookup(self, name: str):
        if name not in self.namespace:
            raise KeyError(f"the submission does not define {name}")
        return self.namespace[name]

    def _arg(self, arg, device):
        if isinstance(arg, dict) and set(arg) == {"$model"}:
            return self.models[arg["$model"]]
        if isinstance(arg, dict) and set(arg) == {"$file"}:
            return self.files[arg["$file"]]
        if isinstance(arg, torch.Tensor) and device is not None:
            if self._faking:
                arg = self._fake_mode.from_tensor(arg)  # no data behind it, not even the grader's
            return arg.to(device)
        return arg

    @staticmethod
    def _student(function, *args):
        try:
            return function(*args)
        except BaseException as error:  # noqa: BLE001 - SystemExit from student code is an answer too
            raise StudentRaised(error) from None

    def describe(self, value, depth: int = 0) -> dict:
        """Plain data for anything student code returned; models stay here behind a handle."""
        kind = qualified_type(value)
        if _FakeTensor is not None and issubclass(type(value), _FakeTensor):
            return self._describe_fake(value, kind)
        if _isinstance(value, _Tensor):
            try:
                plain = _as_subclass(value, _Tensor)
            except Exception:  # noqa: BLE001 - sparse and other layouts have no plain view
                plain = None
            if plain is None or plain.layout != torch.strided or not wire.crosses(plain.dtype):
                what = "no dense storage" if plain is None else plain.layout if plain.layout != torch.strided else plain.dtype
                return {"kind": "object", "type": f"{kind} ({what})"}
            return {
                "kind": "tensor",
                "type": kind,
                "value": _clone(_detach(plain)) if plain.device.type != "cpu" else _detach(plain),
                "device": str(plain.device),
                "requires_grad": bool(plain.requires_grad),
            }
        if isinstance(value, nn.Module):
            ref = next((r for r, m in self.models.items() if m is value), None) or next(self._handles)
            self.models[ref] = value
            return {"kind": "model", "type": kind, "ref": ref}
        if value is None or isinstance(value, (bool, int, float, str)):
            return {"kind": "scalar", "type": kind, "value": value}
        if depth < 2 and isinstance(value, (list, tuple)) and len(value) <= 100_000:
            return {"kind": "list", "type": kind, "items": [self.describe(item, depth + 1) for item in value]}
        if depth < 2 and isinstance(value, dict) and len(value) <= 10_000:
            return {
                "kind": "dict",
                "type": kind,
                "items": {str(key): self.describe(item, depth + 1) for key, item in value.items()},
                "key_types": sorted({qualified_type(key) for key in value}),
            }
        try:
            text = repr(value)[:200]
        except BaseException:  # noqa: BLE001
            text = "<unrepresentable>"
        return {"kind": "object", "type": kind, "repr": text}

    @staticmethod
    def _describe_fake(value, kind: str) -> dict:
        """A fake tensor (the fake device probe's answer) as a meta tensor of its shape and dtype, with the device
        it reports; PyTorch's own class counts as a plain tensor (it stands in for one), a subclass of it does not."""
        try:
            dtype, shape, device = value.dtype, tuple(value.shape), str(value.fake_device)
            if not wire.crosses(dtype) or value.layout != torch.strided:
                return {"kind": "object", "type": f"{kind} ({dtype if value.layout == torch.strided else value.layout})"}
            meta = torch.empty(shape, dtype=dtype, device="meta")
        except Exception:  # noqa: BLE001 - whatever it is, it is no tensor the parent can check
            return {"kind": "object", "type": kind}
        return {"kind": "tensor", "type": "torch.Tensor" if type(value) is _FakeTensor else kind, "value": meta,
                "device": device, "requires_grad": False}

    def structure(self, model: nn.Module) -> dict:
        """Layers, parameters and layers hidden from PyTorch (kept in plain lists or dicts)."""
        modules = []
        for name, module in model.named_modules():
            entry = {"name": name, "type": qualified_type(module)}
            if isinstance(module, nn.Linear):
                entry.update(in_features=module.in_features, out_features=module.out_features, bias=module.bias is not None)
            modules.append(entry)
        parameters = [
            {"name": name, "shape": list(p.shape), "dtype": wire.dtype_name(p.dtype), "device": str(p.device)}
            for name, p in model.named_parameters()
        ]
        hidden = []
        for module_name, module in model.named_modules():
            for attribute, value in vars(module).items():
                items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
                if attribute.startswith("_"):
                    continue
                if any(isinstance(item, (nn.Module, nn.Parameter)) for item in items):
                    hidden.append(f"{module_name}.{attribute}" if module_name else attribute)
        return {
            "kind": "model",
            "type": qualified_type(model),
            "is_module": isinstance(model, nn.Module),
            "modules": modules,
            "parameters": parameters,
            "unregistered": hidden,
        }

    def handle(self, request: dict) -> dict:
        """One request in, one reply out; student exceptions become part of the reply."""
        op = request.get("op", "")
        method = getattr(self, f"op_{op}", None)
        if method is None:
            return {"status": "protocol", "message": f"unknown request {op!r}"}
        args = dict(request.get("args", {}))
        if args.pop("$forget", False):
            self.forget()
        try:
            return {"status": "ok", "reply": method(**args)}
        except StudentRaised as raised:
            return {"status": "raised", "error": short_error(raised.error)}
        except Exception as error:  # noqa: BLE001 - a request the submission's state cannot answer
            return {"status": "raised", "error": short_error(error)}


# -- the worker process ------------------------------------------------------------


class _RefuseGraderImports:
    """A meta-path finder that makes the grader's own packages unimportable."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in GRADER_PACKAGES:
            raise ImportError(f"{name} is not available to submissions")
        return None


def grader_modules() -> list[str]:
    return [name for name in sys.modules if name.split(".")[0] in GRADER_PACKAGES]


_GRADER_MODULES: list[str] | None = None  # listed once in the fork server: walking sys.modules in each worker costs ~15 ms of copy-on-write


def hide_grader() -> None:
    """Forget every path and module that leads to the grader's packages."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    kept = [p for p in sys.path if os.path.abspath(p or ".") != root]
    for path in set(sys.path) - set(kept):
        sys.path_importer_cache.pop(path, None)
    sys.path[:] = kept
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__name__.lower()]
    sys.meta_path.insert(0, _RefuseGraderImports())
    for name in _GRADER_MODULES if _GRADER_MODULES is not None else grader_modules():
        sys.modules.pop(name, None)


NOBODY = 65534
MAX_PROCESSES = 256  # tasks (threads included) of the worker's own user
MAX_FILE_BYTES = 256 << 20


def python_reachable() -> bool:
    """Can a user other than root read Python's own files (not the case under /root/.pyenv)?"""
    for path in {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}:
        parts = os.path.realpath(path).split(os.sep)
        for depth in range(2, len(parts) + 1):
            if not os.stat(os.sep.join(parts[:depth]) or os.sep).st_mode & 0o001:
                return False
    return True


def confine(sandboxed: dict | None) -> dict:
    """The last steps before student code: limits on the worker's own user, then that user.

    ``sandboxed`` records what ``grader.sandbox.namespaces`` already built (private
    processes, files and network); without it (no root, no namespaces) only the
    import hook, the limits and, as root where Python stays readable, a user of
    its own apply. Returns what was applied, for the record.
    """
    import resource
    import signal

    applied = {"import_hook": True, "user": None, **(sandboxed or {})}
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a file past the cap fails to grow instead of killing
    for limit, value in ((resource.RLIMIT_FSIZE, MAX_FILE_BYTES), (resource.RLIMIT_CORE, 0)):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass
    applied["file_size_cap"] = MAX_FILE_BYTES
    if sys.platform != "linux":
        return applied
    own_root = applied.get("filesystem") == "private root"
    if os.geteuid() == 0 and "user_namespace" not in applied and (own_root or python_reachable()):
        uid = int(os.environ.get("PROPGRADE_UID", NOBODY))
        resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))  # counted per user: this worker's
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        applied["user"] = "a user of its own"
        applied["process_cap"] = MAX_PROCESSES
    elif "user_namespace" in applied:
        namespaces.drop_capabilities()
        applied["user"] = "an unprivileged user namespace"
    if sandboxed is not None:
        import ctypes

        ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG: SIGKILL when the process that waits for it goes
    namespaces.no_new_privileges()
    return applied


def read_frame(fd: int):
    def exactly(size: int) -> bytes:
        chunks = []
        while size:
            chunk = os.read(fd, min(size, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    size = int.from_bytes(exactly(8), "big")
    return wire.decode(exactly(size))


def cap_memory() -> bool:
    """Cap the address space before student code runs, so a runaway allocation fails here first;
    False where there is no cap to set or the platform refuses it (the parent's watchdog may still apply)."""
    cap = int(os.environ.get("PROPGRADE_MEMORY", "0"))
    if cap <= 0:
        return False
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (ImportError, ValueError, OSError):
        return False
    return True


def single_threaded() -> None:
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, in the fork server this worker came from
        pass


def serve(request_fd: int, reply_fd: int, sandboxed: dict | None = None) -> None:
    single_threaded()
    executor = Executor()
    hide_grader()
    sys.path.insert(0, os.getcwd())  # as in Jupyter: modules beside the notebook are importable
    capped = cap_memory()
    isolation = {**confine(sandboxed), "address_space_cap": capped}
    seed = int(os.environ.get("PROPGRADE_SEED", "0"))
    import random

    random.seed(seed)
    reseed(seed)
    try:
        import numpy

        numpy.random.seed(seed)
    except ImportError:
        pass
    for fd in (request_fd, reply_fd):
        os.set_inheritable(fd, False)  # children the submission starts must not hold the pipes open
    wire.write_frame(reply_fd, wire.encode({"status": "ready", "pid": os.getpid(), "isolation": isolation}))
    while True:
        try:
            request = read_frame(request_fd)
        except EOFError:
            return
        reply = executor.handle(request)
        try:
            frame = wire.encode(reply)
        except Exception as error:  # noqa: BLE001 - an answer that cannot be sent is an answer too, never the worker's end
            frame = wire.encode({"status": "raised", "error": short_error(error)})
        wire.write_frame(reply_fd, frame)


def warm_up() -> None:
    """Pay once, before any fork, for what every worker needs: the meta-device kernels (the first
    comparison on ``meta`` imports some 800 modules, seconds per worker otherwise), autograd, an
    optimiser step and fake tensors. IPython, which only notebooks need, is ``warm_up_notebooks``."""
    z = torch.empty(2, device="meta")
    (z >= 0).to(z.dtype).sum()
    model = torch.nn.Linear(2, 1)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = torch.nn.BCEWithLogitsLoss()(model(torch.zeros(1, 2)), torch.zeros(1, 1))
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    if _ProbeMode is not None:  # the fake-tensor device probe: its first use builds PyTorch's fake dispatch, 2-3 s per worker
        mode = _ProbeMode(allow_non_fake_inputs=True)
        with torch.no_grad(), mode:
            fake = mode.from_tensor(torch.zeros(2, 3)).to("lazy:0")
            (fake >= 0).to(fake.dtype), fake[:, 0], fake.new_tensor([1.0]), model.to("lazy:0")(fake[:, :2])


def warm_up_notebooks() -> None:
    """IPython (0.25 s): before the first worker that runs a notebook, or right after a first worker that runs a
    module, so that a lone module's grade never waits for it."""
    from IPython.core import interactiveshell  # noqa: F401


def warm_up_plots() -> None:
    """For a class: the lesson's notebooks plot, and each worker would import matplotlib (about 0.3 s) and
    read its fonts again. Done here once, after the first worker was forked, so no single grade waits for it."""
    import tempfile

    os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="propgrade-mpl-"))
    try:
        import matplotlib.pyplot  # noqa: F401
        import matplotlib_inline.backend_inline  # noqa: F401
    except ImportError:  # a course without plots: nothing to warm
        pass


def end_with_parent() -> None:
    """SIGKILL when the fork server goes (it leaves once its controller has gone, however that went): a worker
    busy in student code never reads the end of its request pipe, and would run on until its own time limits."""
    import ctypes

    parent = os.getppid()
    ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it went before the line above
        os._exit(70)


def become_worker(request: dict, fds: list[int]) -> None:
    """In a freshly forked child: a session, pipes, directory and environment of its own, then serve."""
    import signal

    request_fd, reply_fd, output_fd = fds
    os.setsid()
    end_with_parent()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    for fd in (null, output_fd):
        os.close(fd)
    os.chdir(request["workdir"])
    os.environ.clear()
    os.environ.update(request["env"])
    sandboxed = None
    if request.get("sandbox"):
        sandboxed = enter_sandbox(request["sandbox"], request["workdir"], reply_fd)
    serve(request_fd, reply_fd, sandboxed)


def enter_sandbox(sandbox: dict, workdir: str, reply_fd: int) -> dict:
    """Become the init of new namespaces (``grader.sandbox.namespaces``), or say why not.

    This process stays outside as the init's parent: it tells the controller the
    init's pid (the one to kill: everything in the namespace goes with it), then
    waits and leaves with the init's status. It never runs student code.
    """
    import signal

    in_user_namespace = os.geteuid() != 0
    try:
        namespaces.enter(sandbox["cgroups"], user_namespace=in_user_namespace)
    except OSError as error:
        return {"namespaces": f"refused: {error}"}
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_write)
        os.read(ready_read, 1)  # the controller learns this pid before the worker says anything
        os.close(ready_read)
        applied = {"namespaces": ["pid", "mount", "network", "ipc", "uts"]}
        if in_user_namespace:
            applied["user_namespace"] = True
        try:
            keep = sandbox.get("keep") or namespaces.python_dirs(sandbox["hide"])
            applied["hidden"] = namespaces.build_root(sandbox["root"], workdir, keep, sandbox["hide"], sandbox["devices"])
            applied["filesystem"] = "private root"
        except OSError as error:
            applied["filesystem"] = f"refused: {error}"
        return applied
    os.close(ready_read)
    wire.write_frame(reply_fd, wire.encode({"status": "sandboxed", "pid": pid}))
    os.close(ready_write)
    os.closerange(3, 1 << 16)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code)


def zygote(control_fd: int, controller: bool = False) -> None:
    """A fork server: imports torch once, then forks one fresh worker per request.

    It never initialises CUDA and never runs student code; each child confines
    itself (``serve``) before it reads its first request. Requests arrive as
    one JSON datagram each on a SEQPACKET socket, with the child's pipes
    attached as file descriptors.
    """
    import json
    import socket

    global _GRADER_MODULES
    single_threaded()
    if controller:
        fork_controller(control_fd)
    warm_up()
    _GRADER_MODULES = grader_modules()
    import gc

    gc.freeze()  # what is here now is never collected again: a worker's collections do not copy its pages
    control = socket.socket(fileno=control_fd)
    codes: dict[int, int] = {}
    notebooks_warm = False
    kept: dict[tuple, list[str]] = {}
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1 << 20, 3)
        except OSError:
            message = b""
        if not message:  # the controller has gone: leave at once (tearing down an interpreter that holds torch
            os._exit(0)  # takes 0.2-0.5 s, and the launcher's output stays open until this process ends)
        request = json.loads(message)
        if request.get("sandbox"):  # worked out once here, not in every worker
            hide = tuple(request["sandbox"]["hide"])
            request["sandbox"]["keep"] = kept.get(hide) or kept.setdefault(hide, namespaces.python_dirs(list(hide)))
        if request["op"] == "fork":
            if request.get("notebook", True) and not notebooks_warm:
                warm_up_notebooks()
                notebooks_warm = True
            pid = os.fork()
            if pid == 0:
                control.close()
                code = 0
                try:
                    become_worker(request, fds)
                except BaseException:  # noqa: BLE001 - say why on the worker's output, then go
                    traceback.print_exc()
                    code = 70
                finally:
                    sys.stdout.flush()
                    os._exit(code)
            for fd in fds:
                os.close(fd)
            control.send(json.dumps({"pid": pid}).encode())
            if not notebooks_warm:  # while that worker runs
                warm_up_notebooks()
                notebooks_warm = True
                gc.freeze()
        elif request["op"] == "reader":  # a clean reader (grader/clean_reader.py): forked here, where no student code ran
            pid = os.fork()
            if pid == 0:
                try:
                    control.close()
                    from grader.clean_reader import forked_reader

                    forked_reader(fds[0], request.get("uid"))  # never returns
                finally:
                    os._exit(70)
            for fd in fds:
                os.close(fd)
            control.send(json.dumps({"pid": pid}).encode())
        elif request["op"] == "warm":  # answered first: the grader goes on while this process imports
            control.send(b"{}")
            warm_up_plots()
            gc.freeze()
        elif request["op"] == "status":
            pid, code = request["pid"], None
            try:
                done, status = os.waitpid(pid, 0 if request.get("wait") else os.WNOHANG)
                if done:
                    codes[pid] = code = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                code = codes.get(pid, 0)
            control.send(json.dumps({"code": code}).encode())


def fork_controller(control_fd: int) -> None:
    """The command's controller, forked from here with torch imported and nothing else yet: it shares torch's
    pages with this server and its workers instead of importing its own (``grader.launcher``). No worker is
    ever forked from it; this server, which never learns the command's arguments, stays their only parent."""
    import socket

    control = socket.socket(fileno=os.dup(control_fd))
    message, fds, _, _ = socket.recv_fds(control, 1 << 16, 8)
    control.close()
    if not message:
        return
    pid = os.fork()
    if pid == 0:
        os.close(control_fd)
        try:
            from grader.launcher import become_controller

            become_controller(fds)  # never returns
        finally:
            os._exit(70)
    for fd in fds:
        os.close(fd)
    from grader.machine import oom_first

    oom_first(os.getpid())  # raised only now: the controller keeps the default


def serve_on_standard_streams() -> None:
    """A worker that was handed no pipes (Windows): requests on stdin, replies on stdout, and the
    submission's own output on stderr."""
    request_fd, reply_fd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    serve(request_fd, reply_fd)


if __name__ == "__main__":
    if sys.argv[1] == "--zygote":
        zygote(int(sys.argv[2]), controller="--controller" in sys.argv[3:])
    elif sys.argv[1] == "--stdio":
        serve_on_standard_streams()
    else:
        import json

        sandbox = json.loads(os.environ.pop("PROPGRADE_SANDBOX", "null"))
        request_fd, reply_fd = int(sys.argv[1]), int(sys.argv[2])
        os.setsid() if os.getsid(0) != os.getpid() else None
        serve(request_fd, reply_fd, enter_sandbox(sandbox, os.getcwd(), reply_fd) if sandbox else None)
