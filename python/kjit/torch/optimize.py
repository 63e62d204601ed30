"""kjit.torch.optimize: moves a model's depthwise convolutions to kjit.

Every nn.Conv2d with groups == in_channels == out_channels, padding_mode
"zeros" and float32 CPU parameters is replaced, in place, by a
DepthwiseConv2d that holds the same Parameter objects (so state_dict keys,
optimizers and training keep working) and calls kjit.torch.depthwise_conv2d.

Tuning (tune_seconds > 0) uses kjit's on-line tuning: each distinct layer
workload is compiled with a share of the budget, its candidates are measured
(in a helper process, kjit-tune --measure-worker, so a bad candidate cannot
take the model down) and the best code is swapped into the kernel this
process then uses. Every measurement is recorded in the tuning database:
$KJIT_TUNING_DB, else <kjit cache dir>/tuning.sqlite (cache dir:
$KJIT_CACHE_DIR, else kjit's default); later processes then get the tuned
config ("tuned") without tuning again. A workload that already has a record
is not tuned again (its source says "tuned")."""

import torch
from torch import nn
from torch.nn import functional as F

from .. import _runtime
from .conv import depthwise_conv2d


class LayerEntry:
    """One replaced layer: where it is, its attributes, and (once it has run
    or been tuned) its input shape and its kernel's configs and sources."""

    def __init__(self, path, conv):
        self.path = path
        self.channels = conv.in_channels
        self.kernel = tuple(conv.kernel_size)
        self.stride = tuple(conv.stride)
        self.padding = conv.padding
        self.dilation = tuple(conv.dilation)
        self.bias = conv.bias is not None
        self.input_shape = None
        self.configs = []
        self.config_sources = []

    def record(self, x, kernel):
        self.input_shape = tuple(x.shape)
        if kernel is not None:
            self.configs = list(kernel.configs)
            self.config_sources = list(kernel.config_sources)

    def __repr__(self):
        return ("LayerEntry(%r, C=%d, kernel=%s, stride=%s, padding=%r, "
                "dilation=%s, input=%s, sources=%s)"
                % (self.path, self.channels, self.kernel, self.stride,
                   self.padding, self.dilation, self.input_shape,
                   self.config_sources))


def _short_config(text):
    """'#kjit.config<{a = 1 : i64, b = "x"}>' -> 'a=1 b=x'."""
    body = text
    if body.startswith("#kjit.config<{") and body.endswith("}>"):
        body = body[len("#kjit.config<{"):-2]
    parts = []
    for item in body.split(", "):
        name, _, value = item.partition(" = ")
        value = value.split(" : ")[0].strip('"')
        parts.append("%s=%s" % (name, value) if value else name)
    return " ".join(parts)


class OptimizeReport(list):
    """The LayerEntry of each replaced layer, in module order; str() is a
    table. tuning_db: the tuning database path kjit uses ("off": none)."""

    tuning_db = ""

    def __str__(self):
        dims = lambda t: "x".join(map(str, t)) if t else "-"
        rows = [("layer", "C", "kernel", "stride", "padding", "dilation",
                 "input", "source", "config")]
        for e in self:
            rows.append((e.path, str(e.channels), dims(e.kernel),
                         dims(e.stride), str(e.padding), dims(e.dilation),
                         dims(e.input_shape),
                         "; ".join(e.config_sources) or "(not run yet)",
                         "; ".join(map(_short_config, e.configs))))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["%d depthwise conv(s) on kjit; tuning database: %s"
                 % (len(self), self.tuning_db or "(default)")]
        for i, r in enumerate(rows):
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)


def _kjit_takes(x, weight):
    """True when kjit computes this call (float32 CPU tensors)."""
    return (x.dtype == weight.dtype == torch.float32
            and x.device.type == weight.device.type == "cpu")


class DepthwiseConv2d(nn.Module):
    """A depthwise nn.Conv2d computed by kjit.torch.depthwise_conv2d. It
    holds the replaced layer's own weight and bias Parameters, and its
    attributes (in_channels, kernel_size, stride, padding, dilation, ...).
    Moved to another dtype or device, it computes with F.conv2d."""

    def __init__(self, conv, entry=None):
        super().__init__()
        for name in ("in_channels", "out_channels", "kernel_size", "stride",
                     "padding", "dilation", "groups", "padding_mode"):
            setattr(self, name, getattr(conv, name))
        self.weight = conv.weight
        self.bias = conv.bias
        self.entry = entry

    def forward(self, x):
        if not _kjit_takes(x, self.weight):
            # After model.double() or .to("cuda"): PyTorch's own conv.
            return F.conv2d(x, self.weight, self.bias, self.stride,
                            self.padding, self.dilation, self.groups)
        if self.entry is not None and self.entry.input_shape is None:
            with _runtime.watch_lookups() as seen:
                y = depthwise_conv2d(x, self.weight, self.bias, self.stride,
                                     self.padding, self.dilation)
            self.entry.record(x, seen[-1][1] if seen else None)
            return y
        return depthwise_conv2d(x, self.weight, self.bias, self.stride,
                                self.padding, self.dilation)

    def extra_repr(self):
        return ("%d, kernel_size=%s, stride=%s, padding=%r, dilation=%s, "
                "bias=%s (kjit)" % (self.in_channels, self.kernel_size,
                                    self.stride, self.padding, self.dilation,
                                    self.bias is not None))


def is_depthwise(m):
    """True for an nn.Conv2d that optimize() moves to kjit."""
    return (type(m) is nn.Conv2d and m.groups == m.in_channels == m.out_channels
            and m.padding_mode == "zeros" and m.weight.dtype == torch.float32
            and m.weight.device.type == "cpu")


def _tune(entries, layers, shapes, tune_seconds):
    """Tunes each distinct (input layout, layer attributes) once, with an
    equal share of tune_seconds, and fills the entries from the kernels."""
    fn = "kjit.torch.optimize"
    missing = [e.path for e in entries if id(layers[e.path]) not in shapes]
    if missing:
        raise ValueError("%s: example_inputs did not reach layer(s) %s, so "
                         "their input shapes are unknown"
                         % (fn, ", ".join(missing)))
    work = {}
    for e in entries:
        shape, stride = shapes[id(layers[e.path])]
        conv = layers[e.path]
        key = (shape, stride, e.kernel, e.stride, str(e.padding), e.dilation,
               e.bias)
        work.setdefault(key, []).append((e, conv, shape, stride))
    budget = tune_seconds / max(1, len(work))
    for group in work.values():
        e, conv, shape, stride = group[0]
        x = torch.empty_strided(shape, stride).normal_()
        with torch.no_grad(), _runtime.watch_lookups(tune_seconds=budget) as seen:
            depthwise_conv2d(x, conv.weight, conv.bias, conv.stride,
                             conv.padding, conv.dilation)
        for e, _, _, _ in group:
            e.record(x, seen[-1][1] if seen else None)


def _run_once(model, inputs):
    """model(*inputs) without autograd and in eval mode, so that the shape
    probe leaves BatchNorm statistics and the like untouched; each module's
    own training flag is restored afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for m, mode in modes:
            m.training = mode


def optimize(model, tune_seconds=0, example_inputs=None):
    """Replaces every depthwise nn.Conv2d of `model` (in place) by a
    kjit-backed DepthwiseConv2d with the same Parameters; returns an
    OptimizeReport of the replaced layers.

    example_inputs (a tensor or a tuple of model arguments): the model is run
    on them once (torch.no_grad, eval mode) to learn each layer's input shape, and the
    kernels are compiled then, so the report shows their configs. Without it
    the report fills in as each layer first runs.
    tune_seconds > 0 (needs example_inputs): tunes each distinct layer
    workload within tune_seconds in all, through kjit's on-line tuning, and
    records the measurements in the tuning database (module docstring)."""
    fn = "kjit.torch.optimize"
    if not isinstance(model, nn.Module):
        raise TypeError("%s: model must be a torch.nn.Module, got %s"
                        % (fn, type(model).__name__))
    if isinstance(tune_seconds, bool) or not isinstance(tune_seconds, (int, float)):
        raise TypeError("%s: tune_seconds must be a number, got %r"
                        % (fn, tune_seconds))
    if not tune_seconds >= 0:
        raise ValueError("%s: tune_seconds must be >= 0, got %r"
                         % (fn, tune_seconds))
    if tune_seconds > 0 and example_inputs is None:
        raise ValueError("%s: tune_seconds > 0 needs example_inputs (the "
                         "input shapes to tune for)" % fn)
    if is_depthwise(model):
        raise ValueError("%s: the model itself is a depthwise Conv2d; it "
                         "cannot be replaced in place (wrap it in a "
                         "module, e.g. nn.Sequential)" % fn)
    if example_inputs is not None and not isinstance(example_inputs, tuple):
        example_inputs = (example_inputs,)

    report = OptimizeReport()
    report.tuning_db = _runtime.jit().tuning_db_path
    replaced, layers = {}, {}
    for path, module in model.named_modules():
        if is_depthwise(module):
            entry = LayerEntry(path, module)
            report.append(entry)
            layers[path] = module
            replaced[id(module)] = DepthwiseConv2d(module, entry)

    shapes = {}
    if tune_seconds > 0:
        # The shapes come from the original layers, so that nothing is
        # compiled untuned first.
        def remember(module, args):
            x = args[0]
            shapes.setdefault(id(module), (tuple(x.shape), tuple(x.stride())))

        handles = [m.register_forward_pre_hook(remember) for m in layers.values()]
        try:
            _run_once(model, example_inputs)
        finally:
            for h in handles:
                h.remove()

    # A layer reachable under several names is replaced under each of them.
    for parent in model.modules():
        for name, child in list(parent._modules.items()):
            if child is not None and id(child) in replaced:
                setattr(parent, name, replaced[id(child)])

    if tune_seconds > 0:
        _tune(report, layers, shapes, tune_seconds)
    elif example_inputs is not None:
        _run_once(model, example_inputs)
    return report
