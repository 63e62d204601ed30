"""Whole networks for kjit's end-to-end PyTorch benchmark, written from their
papers' architecture descriptions (inference form, random weights).

- convnext_t():  ConvNeXt-T, Liu et al. 2022, "A ConvNet for the 2020s",
  Sec. 2 (Fig. 2 roadmap, Fig. 4 block) and Table 9 (ConvNeXt-T).
- replknet31b(): RepLKNet-31B, Ding et al. 2022, "Scaling Up Your Kernels to
  31x31", Sec. 4.1 and Fig. 4 (stem, RepLK Block, ConvFFN, transition),
  Table 5 (31B: kernels 31,29,27,13; channels 128..1024; layers 2,2,18,2).
  The re-parameterized (deploy) form: BN folded into each conv's bias, the
  parallel small kernel merged into the large one.
- nat_mini(): NAT-Mini, Hassani et al. 2023, "Neighborhood Attention
  Transformer", Sec. 3.2-3.3 and Table 1 (depths 3,4,6,5; dims 64..512;
  heads 2,4,8,16; kernel 7; MLP ratio 3; two-conv tokenizer, conv
  downsamplers).
- hyena_stack(): blocks with the Hyena operator of order 2, Poli et al. 2023,
  "Hyena Hierarchy", Sec. 3 (Def. 3.1, Sec. 3.3 implicit filters: FFN over
  positional encodings with sine activations times an exponential decay
  window; Algorithm 3) and the 125M setting of Sec. 4.3 (d=768, L=2048),
  here a stack of 2 blocks.

ConvNeXt and RepLKNet are plain PyTorch: kjit.torch.optimize() moves their
depthwise convs to kjit. NAT and Hyena call their attention / long
convolution through a backend switch: set_backend(model, "kjit") makes them
call kjit.torch.neighborhood_attention / kjit.torch.fft_conv instead of the
pure-PyTorch versions here."""
import math

import torch
from torch import nn
from torch.nn import functional as F


# --------------------------------------------------------------- ConvNeXt-T

class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of an N,C,H,W tensor (ConvNeXt's
    channels_first LN in the stem and downsamplers)."""

    def __init__(self, c, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.eps = eps

    def forward(self, x):
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class ConvNeXtBlock(nn.Module):
    """7x7 depthwise conv -> LN -> Linear 4C -> GELU -> Linear C -> layer
    scale, plus the residual (Fig. 4)."""

    def __init__(self, c, layer_scale):
        super().__init__()
        self.dwconv = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.pwconv1 = nn.Linear(c, 4 * c)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(torch.full((c,), layer_scale))

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).permute(0, 3, 1, 2)


class ConvNeXt(nn.Module):
    def __init__(self, depths=(3, 3, 9, 3), dims=(96, 192, 384, 768),
                 num_classes=1000, layer_scale=0.1):
        super().__init__()
        self.downsample = nn.ModuleList([nn.Sequential(
            nn.Conv2d(3, dims[0], 4, stride=4), LayerNorm2d(dims[0]))])
        for i in range(3):
            self.downsample.append(nn.Sequential(
                LayerNorm2d(dims[i]),
                nn.Conv2d(dims[i], dims[i + 1], 2, stride=2)))
        self.stages = nn.ModuleList(
            nn.Sequential(*[ConvNeXtBlock(d, layer_scale) for _ in range(n)])
            for n, d in zip(depths, dims))
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.head = nn.Linear(dims[-1], num_classes)

    def forward(self, x):
        for down, stage in zip(self.downsample, self.stages):
            x = stage(down(x))
        return self.head(self.norm(x.mean((2, 3))))


def convnext_t():
    """ConvNeXt-T. layer_scale 0.1 instead of the paper's 1e-6 init: with
    random weights, 1e-6 would hide the blocks (and any error in them) from
    the output."""
    return ConvNeXt()


# ------------------------------------------------------------ RepLKNet-31B

def _conv_relu(cin, cout, k, stride=1, groups=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups),
                         nn.ReLU())


class RepLKBlock(nn.Module):
    """BN -> 1x1 conv+ReLU -> KxK depthwise conv -> ReLU -> 1x1 conv, plus
    the residual (Fig. 4, deploy form)."""

    def __init__(self, c, k):
        super().__init__()
        self.pre_bn = nn.BatchNorm2d(c)
        self.pw1 = _conv_relu(c, c, 1)
        self.large_kernel = nn.Conv2d(c, c, k, padding=k // 2, groups=c)
        self.lk_nonlinear = nn.ReLU()
        self.pw2 = nn.Conv2d(c, c, 1)

    def forward(self, x):
        y = self.lk_nonlinear(self.large_kernel(self.pw1(self.pre_bn(x))))
        return x + self.pw2(y)


class ConvFFN(nn.Module):
    """BN -> 1x1 conv 4C -> GELU -> 1x1 conv C, plus the residual."""

    def __init__(self, c):
        super().__init__()
        self.pre_bn = nn.BatchNorm2d(c)
        self.pw1 = nn.Conv2d(c, 4 * c, 1)
        self.act = nn.GELU()
        self.pw2 = nn.Conv2d(4 * c, c, 1)

    def forward(self, x):
        return x + self.pw2(self.act(self.pw1(self.pre_bn(x))))


class RepLKNet(nn.Module):
    def __init__(self, kernels=(31, 29, 27, 13), dims=(128, 256, 512, 1024),
                 layers=(2, 2, 18, 2), num_classes=1000):
        super().__init__()
        c = dims[0]
        # Stem: 3x3/2 conv, 3x3 depthwise, 1x1 conv, 3x3/2 depthwise.
        self.stem = nn.Sequential(
            _conv_relu(3, c, 3, stride=2), _conv_relu(c, c, 3, groups=c),
            _conv_relu(c, c, 1), _conv_relu(c, c, 3, stride=2, groups=c))
        self.stages = nn.ModuleList()
        self.transitions = nn.ModuleList()
        for i, (k, d, n) in enumerate(zip(kernels, dims, layers)):
            blocks = []
            for _ in range(n):
                blocks += [RepLKBlock(d, k), ConvFFN(d)]
            self.stages.append(nn.Sequential(*blocks))
            if i < 3:
                # Transition: 1x1 conv to the next width, 3x3/2 depthwise.
                self.transitions.append(nn.Sequential(
                    _conv_relu(d, dims[i + 1], 1),
                    _conv_relu(dims[i + 1], dims[i + 1], 3, stride=2,
                               groups=dims[i + 1])))
        self.norm = nn.BatchNorm2d(dims[-1])
        self.head = nn.Linear(dims[-1], num_classes)

    def forward(self, x):
        x = self.stem(x)
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < len(self.transitions):
                x = self.transitions[i](x)
        return self.head(self.norm(x).mean((2, 3)))


def _random_bn_stats(model):
    """Random but sane BatchNorm statistics (the deploy form of a trained
    net has non-trivial ones)."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
            m.running_var.copy_(0.5 + torch.rand(n, generator=g))
            m.weight.data.copy_(0.5 + 0.5 * torch.rand(n, generator=g))
            m.bias.data.copy_(0.1 * torch.randn(n, generator=g))
    return model


def replknet31b():
    """RepLKNet-31B (deploy form, eval mode)."""
    return _random_bn_stats(RepLKNet()).eval()


# ---------------------------------------------------------------- NAT-Mini

def _na_window(n, k):
    """Per position, its k neighbours (NATTEN, dilation 1: the window
    centred on the query, shifted inward at the borders) -> n x k."""
    start = torch.clamp(torch.arange(n) - k // 2, 0, n - k)
    return start[:, None] + torch.arange(k)[None, :]


def neighborhood_attention_2d(q, k, v, kernel_size, rpb, scale):
    """Pure-PyTorch 2-D neighborhood attention (gather + matmul + softmax):
    q, k, v B x heads x H x W x D; rpb heads x (2k-1) x (2k-1); the
    reference the kjit kernel is compared against in the NAT benchmark."""
    b, h, hh, ww, d = q.shape
    nh, nw = _na_window(hh, kernel_size), _na_window(ww, kernel_size)
    # Flattened key index and rpb index of each (query, neighbour).
    idx = (nh[:, None, :, None] * ww + nw[None, :, None, :]).reshape(
        hh * ww, -1)
    rh = nh - torch.arange(hh)[:, None] + kernel_size - 1
    rw = nw - torch.arange(ww)[:, None] + kernel_size - 1
    kf, vf = k.reshape(b, h, hh * ww, d), v.reshape(b, h, hh * ww, d)
    kn, vn = kf[:, :, idx], vf[:, :, idx]                  # b h P K d
    qf = q.reshape(b, h, hh * ww, 1, d) * scale
    attn = (qf @ kn.transpose(-1, -2)).squeeze(-2)         # b h P K
    bias = rpb[:, rh[:, None, :, None], rw[None, :, None, :]]
    attn = (attn + bias.reshape(h, hh * ww, -1)).softmax(-1)
    out = (attn.unsqueeze(-2) @ vn).squeeze(-2)            # b h P d
    return out.reshape(b, h, hh, ww, d)


class NeighborhoodAttention2d(nn.Module):
    def __init__(self, dim, heads, kernel_size):
        super().__init__()
        self.heads, self.kernel_size = heads, kernel_size
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.rpb = nn.Parameter(
            0.02 * torch.randn(heads, 2 * kernel_size - 1, 2 * kernel_size - 1))
        self.proj = nn.Linear(dim, dim)
        self.backend = "torch"

    def forward(self, x):
        b, hh, ww, c = x.shape
        qkv = self.qkv(x).reshape(b, hh, ww, 3, self.heads, c // self.heads)
        q, k, v = qkv.permute(3, 0, 4, 1, 2, 5)     # each b heads H W D
        if self.backend == "kjit":
            import kjit.torch as kt
            y = kt.neighborhood_attention(q, k, v, self.kernel_size,
                                          rpb=self.rpb, scale=self.scale)
        else:
            y = neighborhood_attention_2d(q, k, v, self.kernel_size, self.rpb,
                                          self.scale)
        return self.proj(y.permute(0, 2, 3, 1, 4).reshape(b, hh, ww, c))


class NATLayer(nn.Module):
    def __init__(self, dim, heads, kernel_size, mlp_ratio=3):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = NeighborhoodAttention2d(dim, heads, kernel_size)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(),
                                 nn.Linear(mlp_ratio * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ConvDown(nn.Module):
    """3x3/2 conv on the N,H,W,C token map, then LN."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=2, padding=1)
        self.norm = nn.LayerNorm(cout)

    def forward(self, x):
        x = self.conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.norm(x)


class NAT(nn.Module):
    def __init__(self, depths=(3, 4, 6, 5), dim=64, heads=(2, 4, 8, 16),
                 kernel_size=7, num_classes=1000):
        super().__init__()
        # Tokenizer: two 3x3/2 convs (3 -> dim/2 -> dim), then LN.
        self.tokenizer = nn.Sequential(
            nn.Conv2d(3, dim // 2, 3, stride=2, padding=1),
            nn.Conv2d(dim // 2, dim, 3, stride=2, padding=1))
        self.token_norm = nn.LayerNorm(dim)
        self.levels = nn.ModuleList()
        for i, (n, h) in enumerate(zip(depths, heads)):
            d = dim * 2 ** i
            layers = [NATLayer(d, h, kernel_size) for _ in range(n)]
            if i < len(depths) - 1:
                layers.append(ConvDown(d, 2 * d))
            self.levels.append(nn.Sequential(*layers))
        self.norm = nn.LayerNorm(dim * 2 ** (len(depths) - 1))
        self.head = nn.Linear(dim * 2 ** (len(depths) - 1), num_classes)

    def forward(self, x):
        x = self.token_norm(self.tokenizer(x).permute(0, 2, 3, 1))
        for level in self.levels:
            x = level(x)
        return self.head(self.norm(x).mean((1, 2)))


def nat_mini():
    return NAT()


# ------------------------------------------------------------ Hyena blocks

def fft_conv_torch(u, k, d):
    """y = causal conv(u, k) + d*u through torch.fft (Hyena's fftconv):
    u B x C x L, k C x L, d C."""
    n = u.shape[-1]
    k_f = torch.fft.rfft(k, n=2 * n) / (2 * n)
    u_f = torch.fft.rfft(u, n=2 * n)
    y = torch.fft.irfft(u_f * k_f, n=2 * n, norm="forward")[..., :n]
    return y + u * d[:, None]


class ImplicitFilter(nn.Module):
    """h_t = Window(t) * FFN(PositionalEncoding(t)) (Sec. 3.3): sine
    positional features, an FFN with sine activations, and a per-channel
    exponential decay."""

    def __init__(self, channels, emb_dim=33, width=64, freq=1.0,
                 fast_decay=0.3, slow_decay=1.5):
        super().__init__()
        self.bands = (emb_dim - 1) // 2
        self.freq = freq
        self.ffn = nn.Sequential(nn.Linear(emb_dim, width), nn.Linear(width, width),
                                 nn.Linear(width, channels, bias=False))
        max_decay, min_decay = math.log(1e-2) / fast_decay, math.log(1e-2) / slow_decay
        self.register_buffer("deltas",
                             torch.linspace(min_decay, max_decay, channels))
        self.bias = nn.Parameter(torch.randn(channels))   # the D term

    def forward(self, length):
        t = torch.linspace(0, 1, length)[:, None]
        f = torch.linspace(1e-4, self.bands - 1, self.bands)[None, :]
        z = torch.cat([t, torch.cos(2 * math.pi * f * t),
                       torch.sin(2 * math.pi * f * t)], dim=1)  # L x emb
        h = z
        for i, lin in enumerate(self.ffn):
            h = lin(h)
            if i < len(self.ffn) - 1:
                h = torch.sin(self.freq * h)
        h = h * torch.exp(-t * self.deltas.abs())              # L x C
        return h.t().contiguous()                               # C x L


class HyenaOperator(nn.Module):
    """Order-2 Hyena: x0, x1, v = short-conv(in_proj(u));
    v = x1 * v; v = long-conv(v, h) + D*v; y = out_proj(x0 * v)."""

    def __init__(self, d, short_kernel=3):
        super().__init__()
        self.d = d
        self.in_proj = nn.Linear(d, 3 * d)
        self.short_filter = nn.Conv1d(3 * d, 3 * d, short_kernel,
                                      padding=short_kernel - 1, groups=3 * d)
        self.filter = ImplicitFilter(d)
        self.out_proj = nn.Linear(d, d)
        self.backend = "torch"

    def forward(self, u):
        n = u.shape[1]
        z = self.in_proj(u).transpose(1, 2)                  # B x 3d x L
        z = self.short_filter(z)[..., :n]                    # causal
        x0, x1, v = z.split(self.d, dim=1)
        h = self.filter(n)
        v = v * x1
        if self.backend == "kjit":
            import kjit.torch as kt
            v = kt.fft_conv(v, h, self.filter.bias)
        else:
            v = fft_conv_torch(v, h, self.filter.bias)
        return self.out_proj((x0 * v).transpose(1, 2))


class HyenaBlock(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.mixer = HyenaOperator(d)
        self.norm2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(),
                                 nn.Linear(4 * d, d))

    def forward(self, x):
        x = x + self.mixer(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def hyena_stack(d=768, depth=2):
    """Input: B x L x d tokens (L = 2048 in the benchmark)."""
    return nn.Sequential(*[HyenaBlock(d) for _ in range(depth)])


# ----------------------------------------------------------------- helpers

def set_backend(model, backend):
    """"torch" or "kjit" for every NAT attention / Hyena long convolution."""
    if backend not in ("torch", "kjit"):
        raise ValueError("set_backend: backend must be 'torch' or 'kjit', "
                         "got %r" % (backend,))
    for m in model.modules():
        if hasattr(m, "backend"):
            m.backend = backend
    return model


# name -> (constructor, example input shape, how kjit is applied)
MODELS = {
    "convnext_t": (convnext_t, (1, 3, 224, 224), "optimize"),
    "replknet31b": (replknet31b, (1, 3, 224, 224), "optimize"),
    "nat_mini": (nat_mini, (1, 3, 224, 224), "backend"),
    "hyena": (hyena_stack, (1, 2048, 768), "backend"),
}
