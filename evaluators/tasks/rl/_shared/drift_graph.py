"""A drift function as plain data: traced in the candidate's sandbox, rebuilt and run by the
trusted trainer.

Why a graph: the trainer calls the drift once per minibatch (hundreds of times a second), so it
must run in the trainer's process, and the candidate must never hold the training loop (it
could train longer than the budget and report that). The candidate's process therefore only
traces `drift` with torch.fx on symbolic inputs and sends the operator graph back as JSON
(`trace`); the trusted side (`Graph.from_json`) accepts only element-wise tensor operations
from an allow-list, rebuilds the function from them and checks it on a fixed grid of ratios and
advantages (`check`) before any training. Nothing the candidate wrote runs on the trusted side:
only the allow-listed torch operations it named, on arguments that are numbers or earlier
results. The same file runs on both sides (a support module in the sandbox, trusted code in the
scorer), so the sandbox refuses early with the same reasons the scorer would give.

Element-wise only: a drift maps each (ratio, adv, eps, log_ratio, progress) entry to one entry.
No reductions, reshapes or shape-taking constructors: an agent's drift cannot see another
agent's numbers, and no operation can allocate more than its inputs' size. Every operation
takes at least one earlier value (a tensor) and no lists, so no work happens on plain numbers
(`2 ** 2**31`) or lists (`[x] * 2**31`); keywords are allow-listed per operation (no `out=`,
no `inplace`), and every operation has a derivative (autograd runs through the drift).

Whatever the rebuilt graph raises, on the check grid or in training, is a DriftError: the
candidate's failure, never the trusted side's.
"""

import hashlib
import inspect
import json
import math
import operator
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.fx

INPUTS = ("ratio", "adv", "eps", "log_ratio", "progress")
MAX_NODES = 400
BOUND = 1e4
"""Largest drift (and gradient) magnitude accepted on the check grid: a drift a thousand times
the surrogate's size there only blows up training."""

_UNARY = ("abs", "neg", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt",
          "rsqrt", "square", "reciprocal", "sign", "sin", "cos", "tan", "tanh", "sinh", "cosh",
          "atan", "asinh", "sigmoid", "relu", "erf", "floor", "ceil", "round", "trunc", "frac",
          "logical_not", "zeros_like", "ones_like", "isfinite", "nan_to_num", "signbit")
_BINARY = ("add", "sub", "mul", "div", "true_divide", "pow", "maximum", "minimum", "fmax",
           "fmin", "atan2", "remainder", "fmod", "hypot", "copysign", "logaddexp", "xlogy",
           "gt", "ge", "lt", "le", "eq", "ne", "logical_and", "logical_or", "logical_xor",
           "full_like")
# torch.heaviside and operator.floordiv are left out: autograd has no derivative for them, so
# a drift using them on the ratio would stop training at its first backward pass
_OTHER = ("clamp", "clip", "where", "lerp", "addcmul", "addcdiv", "clamp_min", "clamp_max")

FUNCTIONS: dict[str, Callable] = {
    **{f"torch.{name}": getattr(torch, name) for name in (*_UNARY, *_BINARY, *_OTHER)},
    **{f"torch.nn.functional.{name}": getattr(torch.nn.functional, name)
       for name in ("relu", "softplus", "elu", "leaky_relu", "gelu", "silu", "softsign",
                    "hardtanh", "logsigmoid", "tanhshrink", "relu6")},
    **{f"operator.{name}": getattr(operator, name)
       for name in ("add", "sub", "mul", "truediv", "mod", "pow", "neg", "pos",
                    "abs", "gt", "ge", "lt", "le", "eq", "ne", "and_", "or_", "xor", "invert")},
}
"""The operations a drift may use, by the name that travels. Element-wise, out of place."""
METHODS = frozenset(name for name in (*_UNARY, *_BINARY, *_OTHER) if hasattr(torch.Tensor, name))
"""Tensor methods allowed as `x.<name>(...)`: the same operations."""
_NAMES = {id(fn): name for name, fn in FUNCTIONS.items()}
_KEYWORDS = {"add": ("alpha",), "sub": ("alpha",), "pow": ("exponent",),
             "clamp": ("min", "max"), "clip": ("min", "max"), "clamp_min": ("min",),
             "clamp_max": ("max",), "where": ("condition",), "lerp": ("end", "weight"),
             "addcmul": ("tensor1", "tensor2", "value"), "addcdiv": ("tensor1", "tensor2", "value"),
             "nan_to_num": ("nan", "posinf", "neginf"), "round": ("decimals",),
             "full_like": ("fill_value",), "softplus": ("beta", "threshold"), "elu": ("alpha",),
             "leaky_relu": ("negative_slope",), "hardtanh": ("min_val", "max_val")}
"""Keywords an operation may take besides `input` and `other` (operator.* takes none): the
values of its formula, never `out`, `inplace`, `dtype` or `device`, which would write into the
trainer's tensors or leave the element-wise world."""
_POSITIONAL = {"torch.nn.functional.relu": 1, "torch.nn.functional.relu6": 1,
               "torch.nn.functional.silu": 1, "torch.nn.functional.elu": 2,
               "torch.nn.functional.leaky_relu": 2, "torch.nn.functional.hardtanh": 3}
"""Positional arguments of the functions whose next one is `inplace`."""


_CONTROL_FLOW = ("Python control flow on tensor values (if, and/or, min/max, float(), "
                 ".item()) cannot be turned into a graph; use torch.where(condition, a, b), "
                 "torch.maximum and torch.clamp instead")


class DriftError(ValueError):
    """The drift cannot be used; the message is the reason the candidate gets."""


# -- the candidate's side: trace to plain data ---------------------------------------------

def _encode(value: Any) -> Any:
    if isinstance(value, torch.fx.Node):
        return {"node": value.name}
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    raise DriftError(f"drift passes a {type(value).__name__} ({value!r:.60}) to an operation: "
                     "only tensors and plain numbers are allowed")


def _target_name(node: torch.fx.Node) -> str:
    if node.op == "call_method":
        return str(node.target)
    name = _NAMES.get(id(node.target))
    if name is None:
        module = getattr(node.target, "__module__", None) or "?"
        name = f"{module}.{getattr(node.target, '__name__', repr(node.target))}"
    return name


def trace(drift: Callable) -> dict[str, Any]:
    """`drift` as a JSON-ready graph ({"nodes": [...]}), or {"error": reason}: run once eagerly
    on the check grid (errors, shape, NaN, inputs changed in place), then traced symbolically
    by torch.fx and checked against the allow-list."""
    try:
        params = [p for p in inspect.signature(drift).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(params) != len(INPUTS):
            raise DriftError(f"drift must take {len(INPUTS)} arguments ({', '.join(INPUTS)})")
        grid = check_grid()
        before = [x.clone() for x in grid]
        try:
            out = drift(*grid)
        except Exception as exc:
            hint = f": {_CONTROL_FLOW}" if "Boolean value of Tensor" in str(exc) else ""
            raise DriftError(f"drift raised {type(exc).__name__}: {str(exc)[:200]}{hint}") \
                from exc
        if not all(torch.equal(a, b) for a, b in zip(grid, before, strict=True)):
            raise DriftError("drift changes its inputs in place: compute new tensors instead")
        _check_output(out)
        try:
            graph = torch.fx.symbolic_trace(drift).graph
        except Exception as exc:  # fx's TraceError, or a proxy reaching a non-torch function
            raise DriftError(f"drift cannot be traced ({type(exc).__name__}: "
                             f"{str(exc)[:200]}): {_CONTROL_FLOW}") from exc
        module = graph.owning_module
        nodes = []
        for node in graph.nodes:
            entry = {"op": node.op, "name": node.name, "target": _target_name(node),
                     "args": _encode(node.args),
                     "kwargs": {k: _encode(v) for k, v in node.kwargs.items()}}
            if node.op == "get_attr":
                value = getattr(module, str(node.target))
                if not (isinstance(value, torch.Tensor) and value.numel() == 1):
                    raise DriftError("drift builds a constant tensor of more than one number: "
                                     "use Python numbers or torch.full_like(ratio, value)")
                entry["value"] = float(value)
            nodes.append(entry)
        data = {"nodes": nodes}
        Graph.from_json(json.loads(json.dumps(data)))  # the trusted side's checks, early
        return data
    except DriftError as exc:
        return {"error": str(exc)}


# -- the trusted side: rebuild from plain data ----------------------------------------------

class Graph:
    """A drift rebuilt from its plain-data graph; calling it runs only allow-listed ops."""

    def __init__(self, steps: list[tuple[str, str, Any, Any, Any]], output: str):
        self.steps, self.output = steps, output

    @classmethod
    def from_json(cls, data: Any) -> "Graph":
        """Check and rebuild; DriftError naming what is wrong. `data` is untrusted: every field
        is checked for type, every reference must name an earlier node, every operation must be
        allow-listed with only its own keywords (`_operands`: no `out`, no `inplace`, at least
        one tensor operand, no lists); the rebuilt graph keeps only the steps its output
        depends on."""
        nodes = data.get("nodes") if isinstance(data, dict) else None
        if not isinstance(nodes, list) or not nodes:
            raise DriftError("the traced graph has no nodes")
        if len(nodes) > MAX_NODES:
            raise DriftError(f"drift has {len(nodes)} operations, more than {MAX_NODES}")
        known: set[str] = set()
        inputs, steps, output = 0, [], None

        def decode(value: Any) -> Any:
            if isinstance(value, dict):
                if set(value) != {"node"} or not isinstance(value["node"], str) \
                        or value["node"] not in known:
                    raise DriftError(f"the graph refers to an unknown value {value!r:.80}")
                return value
            if isinstance(value, list):
                raise DriftError("drift passes a list to an operation: only tensors and plain "
                                 "numbers are allowed")
            if isinstance(value, bool | int | float) or value is None:
                if isinstance(value, float) and math.isnan(value):
                    raise DriftError("drift uses a NaN constant")
                if isinstance(value, int) and abs(value) > 2**31:
                    raise DriftError(f"drift uses the integer {value}, too large")
                return value
            raise DriftError(f"the graph holds a {type(value).__name__}, not a number")

        for node in nodes:
            if not isinstance(node, dict) or not isinstance(node.get("name"), str) \
                    or not isinstance(node.get("op"), str):
                raise DriftError("the graph has a malformed node")
            op, name, target = node["op"], node["name"], str(node.get("target"))[:80]
            args, kwargs = node.get("args", []), node.get("kwargs", {})
            if output is not None:
                raise DriftError("the graph has nodes after its output")
            if name in known or not isinstance(args, list) or not isinstance(kwargs, dict):
                raise DriftError(f"the graph's node {name!r:.40} is malformed")
            if op == "placeholder":
                if inputs != len(known) or inputs >= len(INPUTS):
                    raise DriftError(f"drift must take exactly {len(INPUTS)} tensor inputs")
                steps.append((name, "input", inputs, None, None))
                inputs += 1
            elif op == "get_attr":
                value = decode(node.get("value"))
                if not isinstance(value, float | int) or isinstance(value, bool):
                    raise DriftError("drift's constant tensor is not a number")
                steps.append((name, "constant", float(value), None, None))
            elif op in ("call_function", "call_method"):
                function = FUNCTIONS.get(target) if op == "call_function" else \
                    getattr(torch.Tensor, target) if target in METHODS else None
                if function is None:
                    raise DriftError(_not_allowed(target if op == "call_function"
                                                  else f"Tensor.{target}"))
                steps.append((name, "call", function, *_operands(target, args, kwargs, decode)))
            elif op == "output":
                if len(args) != 1 or not isinstance(args[0], dict):
                    raise DriftError("drift must return one tensor")
                output = decode(args[0])["node"]
            else:
                raise DriftError(f"the graph has an operation of kind {op!r:.40}")
            known.add(name)
        if inputs != len(INPUTS) or output is None:
            raise DriftError(f"drift must take {len(INPUTS)} inputs and return one tensor")
        return cls(_live(steps, output), output)

    @property
    def key(self) -> str:
        """The graph's canonical form, hashed: each value named by what computes it (an input's
        position, a constant, an operation on the keys of its operands), so two graphs with
        the same key run the same operations on the same values whatever their node names,
        order or code around them. Score reuse keys on it: it cannot be matched by a drift that
        only agrees with another on some inputs."""
        keys: dict[str, str] = {}

        def canonical(value: Any) -> Any:
            return {"node": keys[value["node"]]} if isinstance(value, dict) else value

        for name, kind, payload, args, kwargs in self.steps:
            form = [kind, _NAMES.get(id(payload), getattr(payload, "__name__", payload)),
                    [canonical(a) for a in args or []],
                    {k: canonical(v) for k, v in sorted((kwargs or {}).items())}]
            keys[name] = hashlib.sha256(json.dumps(form).encode()).hexdigest()
        return keys[self.output][:32]

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        """The drift on `inputs` (five tensors of one shape): a tensor of that shape and dtype,
        every intermediate value a tensor of that shape too (element-wise: nothing larger is
        ever allocated), or a DriftError naming the operation that failed, whatever it raised
        (a division by zero the check grid did not reach, an argument torch refuses)."""
        values: dict[str, Any] = {}
        shape = inputs[0].shape

        def resolve(value: Any) -> Any:
            return values[value["node"]] if isinstance(value, dict) else value

        for name, kind, payload, args, kwargs in self.steps:
            if kind == "input":
                values[name] = inputs[payload]
            elif kind == "constant":
                values[name] = torch.tensor(payload, dtype=inputs[0].dtype,
                                            device=inputs[0].device)
            else:
                try:
                    value = payload(*map(resolve, args),
                                    **{k: resolve(v) for k, v in kwargs.items()})
                except Exception as exc:
                    raise DriftError(f"drift's operation {name!r:.40} raised "
                                     f"{type(exc).__name__}: {str(exc)[:200]}") from exc
                if not isinstance(value, torch.Tensor) or value.shape != shape:
                    raise DriftError(f"drift's operation {name!r:.40} gives a "
                                     f"{type(value).__name__} of shape "
                                     f"{tuple(getattr(value, 'shape', ()))}, not a tensor of "
                                     f"its inputs' shape {tuple(shape)}")
                values[name] = value
        out = values[self.output]
        if out.shape != shape or out.dtype != inputs[0].dtype:
            raise DriftError(f"drift returns a {out.dtype} tensor of shape {tuple(out.shape)}, "
                             f"not {inputs[0].dtype} of its inputs' shape {tuple(shape)}")
        return out


def _operands(target: str, args: list, kwargs: dict, decode: Callable[[Any], Any]
              ) -> tuple[list, dict]:
    """An operation's decoded arguments, refused unless its keywords are allow-listed for it,
    no argument stands where `inplace` does, and at least one argument is an earlier value (so
    it works on tensors, never on plain numbers alone)."""
    allowed = () if target.startswith("operator.") else \
        ("input", "other", *_KEYWORDS.get(target.rsplit(".", 1)[-1], ()))
    for keyword in kwargs:
        if keyword not in allowed:
            raise DriftError(f"drift passes the keyword {keyword!r:.40} to {target}, which "
                             f"takes only {', '.join(allowed) or 'positional arguments'}")
    if len(args) > _POSITIONAL.get(target, len(args)):
        raise DriftError(f"drift passes {len(args)} positional arguments to {target}, which "
                         f"takes {_POSITIONAL[target]} (the next is `inplace`)")
    args, kwargs = [decode(a) for a in args], {k: decode(v) for k, v in kwargs.items()}
    if not any(isinstance(v, dict) for v in (*args, *kwargs.values())):
        raise DriftError(f"drift calls {target} with no tensor operand: operations work on "
                         "tensors, plain numbers are computed in the drift's own code")
    return args, kwargs


def _live(steps: list[tuple[str, str, Any, Any, Any]], output: str
          ) -> list[tuple[str, str, Any, Any, Any]]:
    """The steps the output depends on, and the inputs (in order): operations whose values
    are never used are not run, so they cost no training time and raise nothing."""
    needed = {output}
    for name, kind, _, args, kwargs in reversed(steps):
        if name in needed and kind == "call":
            needed.update(v["node"] for v in (*args, *kwargs.values()) if isinstance(v, dict))
    return [step for step in steps if step[1] == "input" or step[0] in needed]


class Watched:
    """The graph as the trusted trainer calls it, with what training assumes of it checked.

    Invariants: (1) training with it stays within `budget_s` seconds of `clock` (checked
    before each call, so the overrun is at most one call: MAX_NODES element-wise operations
    and their backward pass); (2) its values are finite wherever its inputs are (ratio,
    log_ratio and adv finite: the trainer's per-agent NaN guard would otherwise skip those
    updates, and a drift could use that as a switch), counted on the device with no host
    sync, and checked by `verify` once training ends; (3) its gradient can be computed on the
    trainer's device and inputs (probed on the first call, on copies: the check grid ran on
    the CPU, and the trainer's own backward pass must not be where it fails). A broken
    invariant is a DriftError."""

    def __init__(self, graph: Graph, budget_s: float,
                 clock: Callable[[], float] = time.monotonic):
        self.graph, self.budget_s, self.clock = graph, budget_s, clock
        self.deadline = clock() + budget_s
        self.calls = 0
        self.non_finite: torch.Tensor | int = 0

    def __call__(self, ratio: torch.Tensor, adv: torch.Tensor, eps: torch.Tensor,
                 log_ratio: torch.Tensor, progress: torch.Tensor) -> torch.Tensor:
        if not self.clock() < self.deadline:
            raise DriftError(f"training with this drift ran past its budget of "
                             f"{self.budget_s:g} s (after {self.calls} calls of the drift): "
                             "keep the drift to a few cheap element-wise operations")
        if self.calls == 0:
            self._probe(ratio, adv, eps, log_ratio, progress)
        out = self.graph(ratio, adv, eps, log_ratio, progress)
        with torch.no_grad():
            inputs_finite = torch.isfinite(ratio) & torch.isfinite(log_ratio) & torch.isfinite(adv)
            self.non_finite = self.non_finite + (inputs_finite & ~torch.isfinite(out)).sum()
        self.calls += 1
        return out

    def _probe(self, ratio: torch.Tensor, adv: torch.Tensor, eps: torch.Tensor,
               log_ratio: torch.Tensor, progress: torch.Tensor) -> None:
        """The drift's gradient with respect to the ratio and log_ratio on copies of the
        trainer's first inputs, or a DriftError saying why it cannot be computed."""
        ratio, log_ratio = (x.detach().clone().requires_grad_() for x in (ratio, log_ratio))
        out = self.graph(ratio, adv, eps, log_ratio, progress)
        if out.requires_grad:
            try:
                torch.autograd.grad(out.sum(), (ratio, log_ratio), allow_unused=True)
            except Exception as exc:
                raise DriftError(f"drift's gradient cannot be computed in training "
                                 f"({type(exc).__name__}: {str(exc)[:200]})") from exc

    def verify(self) -> None:
        """DriftError if the drift returned NaN or infinity at finite inputs in training."""
        count = int(self.non_finite)
        if count:
            raise DriftError(f"drift returned NaN or infinity during training {count} times at "
                             "finite inputs (ratios outside the check grid's [0.5, 2] or "
                             "advantages outside [-3, 3]): keep it finite everywhere")


def _not_allowed(name: str) -> str:
    return (f"drift uses {name}, which is not an allowed operation: use element-wise torch "
            "operations (torch.where, torch.clamp, torch.exp, torch.log, torch.tanh, "
            "torch.relu, arithmetic and comparisons)")


# -- checks on a fixed grid (trusted side; the sandbox runs them early) -----------------------

def check_grid() -> list[torch.Tensor]:
    """The inputs every drift is checked on: ratios from 0.5 to 2 (1 exactly included, with
    log_ratio = log(ratio)), advantages from -3 to 3, eps 0.2, progress 0 to 1 as the agent
    rows: tensors [5, 41 * 13]."""
    ratio = torch.exp(torch.linspace(math.log(0.5), math.log(2.0), 41))
    ratio[20] = 1.0
    adv = torch.linspace(-3.0, 3.0, 13)
    r, a = torch.meshgrid(ratio, adv, indexing="ij")
    progress = torch.linspace(0.0, 1.0, 5)[:, None].expand(5, r.numel())
    rows = [r.reshape(1, -1).expand(5, -1), a.reshape(1, -1).expand(5, -1)]
    return [rows[0].clone(), rows[1].clone(), torch.full((5, r.numel()), 0.2),
            torch.log(rows[0]), progress.clone()]


def _check_output(out: Any) -> None:
    shape = (5, 41 * 13)
    if not isinstance(out, torch.Tensor):
        raise DriftError(f"drift returned a {type(out).__name__}, not a tensor")
    if tuple(out.shape) != shape or out.dtype != torch.float32:
        raise DriftError(f"drift returned a {out.dtype} tensor of shape {tuple(out.shape)}; it "
                         f"must return float32 of its inputs' shape {shape}")
    if not torch.isfinite(out).all():
        raise DriftError("drift returns NaN or infinity for ratios in [0.5, 2] and "
                         "advantages in [-3, 3]")
    if not out.abs().max() <= BOUND:
        raise DriftError(f"drift returns values up to {float(out.abs().max()):.3g} for ratios "
                         f"in [0.5, 2] and advantages in [-3, 3]; keep it under {BOUND:g}")


def check(graph: Graph) -> dict[str, float]:
    """Run the rebuilt drift on the grid: DriftError for a wrong shape or dtype, non-finite or
    huge values or gradients, or anything the drift or its gradient raises; else its soft
    features (public metrics)."""
    grid = check_grid()
    ratio = grid[0].clone().requires_grad_()
    log_ratio = torch.log(ratio)
    out = graph(ratio, grid[1], grid[2], log_ratio, grid[4])
    _check_output(out)
    grad = torch.zeros_like(ratio)
    if out.requires_grad:
        try:  # the trainer differentiates through the drift: that must not fail either
            (grad,) = torch.autograd.grad(out.sum(), ratio, allow_unused=True,
                                          materialize_grads=True)
        except Exception as exc:
            raise DriftError(f"drift's gradient cannot be computed ({type(exc).__name__}: "
                             f"{str(exc)[:200]})") from exc
    if not torch.isfinite(grad).all() or not grad.abs().max() <= BOUND:
        raise DriftError("drift's gradient with respect to the ratio is not finite (or over "
                         f"{BOUND:g}) for ratios in [0.5, 2] and advantages in [-3, 3]")
    out = out.detach()
    at_one = grid[0] == 1.0
    # the slope at ratio 1 from differences 1e-3 either side, which see kinks (|ratio - 1|)
    # that autograd's one-sided derivative at the kink would call flat
    near = torch.tensor([1.0 - 1e-3, 1.0, 1.0 + 1e-3])
    r, a = (x.reshape(1, -1).expand(5, -1).clone()
            for x in torch.meshgrid(near, grid[1][0, :13], indexing="ij"))
    with torch.no_grad():
        f = graph(r, a, grid[2][:, :39], torch.log(r), grid[4][:, :39]).view(5, 3, 13)
    slope = torch.maximum((f[:, 2] - f[:, 1]).abs(), (f[:, 1] - f[:, 0]).abs()) / 1e-3
    features = {
        "drift_non_negative": float((out >= -1e-6).all()),
        "drift_zero_at_ratio_1": float((out[at_one].abs() <= 1e-6).all()),
        "drift_flat_at_ratio_1": float(slope.max() <= 1e-2),
    }
    return features
