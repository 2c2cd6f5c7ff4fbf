# An independent PyTorch reference for the five schedulers, written from the published algorithms (DDPM, DDIM,
# Karras et al.'s Euler samplers, DPM-Solver++) with diffusers' conventions for spacing and defaults; float32 tensors
# where diffusers keeps them, numpy float64 for timestep spacing. Usage: reference_schedulers.py MANIFEST OUTDIR.
# The manifest lists cases: a config file, step count, step options, and raw float32 input files (model outputs for
# each step, the first sample, a noise stream). Each case writes <name>.<what>.f4 files into OUTDIR.
import json
import math
import sys

import numpy as np
import torch

torch.set_grad_enabled(False)


def betas_for(cfg):
    T = cfg["num_train_timesteps"]
    if cfg.get("trained_betas") is not None:
        betas = torch.tensor(cfg["trained_betas"], dtype=torch.float32)
    elif cfg["beta_schedule"] == "linear":
        betas = torch.linspace(cfg["beta_start"], cfg["beta_end"], T, dtype=torch.float32)
    elif cfg["beta_schedule"] == "scaled_linear":
        betas = torch.linspace(cfg["beta_start"] ** 0.5, cfg["beta_end"] ** 0.5, T, dtype=torch.float32) ** 2
    elif cfg["beta_schedule"] == "squaredcos_cap_v2":
        def abar(t):
            return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        betas = torch.tensor([min(1 - abar((i + 1) / T) / abar(i / T), 0.999) for i in range(T)], dtype=torch.float32)
    else:
        raise ValueError(cfg["beta_schedule"])
    if cfg.get("rescale_betas_zero_snr", False):
        # Lin et al. 2023, algorithm 1.
        root = torch.cumprod(1.0 - betas, 0).sqrt()
        first, last = root[0].clone(), root[-1].clone()
        root = (root - last) * (first / (first - last))
        abar = root ** 2
        alphas = torch.cat([abar[:1], abar[1:] / abar[:-1]])
        betas = 1 - alphas
    return betas


def spaced(cfg, n, T, kind):
    """Inference timesteps, noisiest first. kind: 'int' (DDPM/DDIM) or 'float' (Euler: fractional linspace)."""
    spacing = cfg["timestep_spacing"]
    if spacing == "linspace":
        t = np.linspace(0, T - 1, n)[::-1]
        return t.round().astype(np.int64) if kind == "int" else t.astype(np.float32)
    if spacing == "leading":
        t = (np.arange(n) * (T // n))[::-1] + cfg["steps_offset"]
        return t.astype(np.int64) if kind == "int" else t.astype(np.float32)
    t = np.round(np.arange(T, 0, -T / n)) - 1
    return t.astype(np.int64) if kind == "int" else t.astype(np.float32)


def x0_from(pred, out, x, abar):
    if pred == "epsilon":
        return (x - (1 - abar) ** 0.5 * out) / abar ** 0.5
    if pred == "sample":
        return out
    return abar ** 0.5 * x - (1 - abar) ** 0.5 * out


def threshold(cfg, x0):
    b = x0.shape[0]
    flat = x0.reshape(b, -1)
    s = torch.quantile(flat.abs(), cfg["dynamic_thresholding_ratio"], dim=1)
    s = s.clamp(min=1, max=cfg["sample_max_value"]).unsqueeze(1)
    return (torch.minimum(torch.maximum(flat, -s), s) / s).reshape(x0.shape)


def run_ddpm(cfg, n, outs, x, draw, opts, rec):
    abar = torch.cumprod(1 - betas_for(cfg), 0)
    ts = spaced(cfg, n, cfg["num_train_timesteps"], "int")
    rec["timesteps"] = ts
    one = torch.tensor(1.0)
    for i, t in enumerate(ts[:len(outs)]):
        prev_t = ts[i + 1] if i + 1 < len(ts) else -1
        a_t = abar[t]
        a_p = abar[prev_t] if prev_t >= 0 else one
        alpha = a_t / a_p
        beta = 1 - alpha
        x0 = x0_from(cfg["prediction_type"], outs[i], x, a_t)
        if cfg["thresholding"]:
            x0 = threshold(cfg, x0)
        elif cfg["clip_sample"]:
            x0 = x0.clamp(-cfg["clip_sample_range"], cfg["clip_sample_range"])
        # Posterior q(x_{t-1} | x_t, x0): mean (7) of Ho et al., variance beta~ or beta.
        mean = (a_p ** 0.5 * beta / (1 - a_t)) * x0 + (alpha ** 0.5 * (1 - a_p) / (1 - a_t)) * x
        if t > 0:
            z = draw()
            var = torch.clamp((1 - a_p) / (1 - a_t) * beta, min=1e-20)
            vt = cfg["variance_type"]
            std = var ** 0.5 if vt == "fixed_small" else torch.exp(0.5 * torch.log(var)) if vt == "fixed_small_log" else beta ** 0.5
            mean = mean + std * z
        x = mean
        rec["prev"].append(x)
        rec["x0"].append(x0)
    rec["betas"], rec["alphas_cumprod"] = betas_for(cfg), abar


def run_ddim(cfg, n, outs, x, draw, opts, rec):
    abar = torch.cumprod(1 - betas_for(cfg), 0)
    T = cfg["num_train_timesteps"]
    ts = spaced(cfg, n, T, "int")
    rec["timesteps"] = ts
    final = torch.tensor(1.0) if cfg["set_alpha_to_one"] else abar[0]
    eta = opts.get("eta", 0.0)
    for i, t in enumerate(ts[:len(outs)]):
        prev_t = t - T // n  # diffusers' fixed stride, whatever the spacing
        a_t = abar[t]
        a_p = abar[prev_t] if prev_t >= 0 else final
        pred = cfg["prediction_type"]
        x0 = x0_from(pred, outs[i], x, a_t)
        eps = outs[i] if pred == "epsilon" else (x - a_t ** 0.5 * x0) / (1 - a_t) ** 0.5 if pred == "sample" else a_t ** 0.5 * outs[i] + (1 - a_t) ** 0.5 * x
        if cfg["thresholding"]:
            x0 = threshold(cfg, x0)
        elif cfg["clip_sample"]:
            x0 = x0.clamp(-cfg["clip_sample_range"], cfg["clip_sample_range"])
        # Song et al. (12) and (16).
        sigma = eta * ((1 - a_p) / (1 - a_t) * (1 - a_t / a_p)) ** 0.5
        if opts.get("use_clipped_model_output", False):
            eps = (x - a_t ** 0.5 * x0) / (1 - a_t) ** 0.5
        x = a_p ** 0.5 * x0 + (1 - a_p - sigma ** 2) ** 0.5 * eps
        if eta > 0:
            x = x + sigma * draw()
        rec["prev"].append(x)
        rec["x0"].append(x0)
    rec["betas"], rec["alphas_cumprod"] = betas_for(cfg), abar


def train_sigmas(cfg, abar):
    return ((1 - abar) / abar) ** 0.5


def karras(smin, smax, n):
    rho = 7.0
    ramp = np.linspace(0, 1, n)
    return (smax ** (1 / rho) + ramp * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho


def sigma_to_t(sigma, log_sigmas):
    # Piecewise-linear inverse of log sigma(t) over the training table.
    ls = math.log(max(sigma, 1e-10))
    below = np.nonzero(ls - log_sigmas >= 0)[0]
    lo = min(int(below[-1]) if len(below) else 0, len(log_sigmas) - 2)
    w = min(max((log_sigmas[lo] - ls) / (log_sigmas[lo] - log_sigmas[lo + 1]), 0.0), 1.0)
    return (1 - w) * lo + w * (lo + 1)


def abar_for_sigmas(cfg):
    abar = torch.cumprod(1 - betas_for(cfg), 0)
    if cfg.get("rescale_betas_zero_snr", False):
        abar[-1] = 2 ** -24
    return abar


def run_euler(cfg, n, outs, x, draw, opts, rec, ancestral):
    abar = abar_for_sigmas(cfg)
    T = cfg["num_train_timesteps"]
    table = train_sigmas(cfg, abar).numpy()
    ts = spaced(cfg, n, T, "float")
    sig = np.interp(ts, np.arange(T), table)
    if not ancestral and cfg.get("use_karras_sigmas", False):
        smin = cfg.get("sigma_min") if cfg.get("sigma_min") is not None else float(sig[-1])
        smax = cfg.get("sigma_max") if cfg.get("sigma_max") is not None else float(sig[0])
        sig = karras(smin, smax, n)
        logs = np.log(table)
        ts = np.array([sigma_to_t(s, logs) for s in sig]).astype(np.float32)
    last = float(table[0]) if (not ancestral and cfg.get("final_sigmas_type", "zero") == "sigma_min") else 0.0
    sigmas = torch.from_numpy(np.concatenate([sig, [last]]).astype(np.float32))
    if not ancestral and cfg.get("timestep_type", "discrete") == "continuous" and cfg["prediction_type"] == "v_prediction":
        ts = (0.25 * sigmas[:-1].log()).numpy()
    rec["timesteps"], rec["sigmas"] = ts, sigmas
    smax = sigmas.max()
    rec["init_noise_sigma"] = [float(smax if cfg["timestep_spacing"] in ("linspace", "trailing") else (smax ** 2 + 1) ** 0.5)]
    churn, tmin, tmax, snoise = opts.get("s_churn", 0.0), 0.0, float("inf"), 1.0
    scaled = []
    for i in range(min(len(ts), len(outs))):
        s = sigmas[i]
        scaled.append(x / (s ** 2 + 1) ** 0.5)
        pred = cfg["prediction_type"]
        if ancestral:
            x0 = x - s * outs[i] if pred == "epsilon" else outs[i] if pred == "sample" else outs[i] * (-s / (s ** 2 + 1) ** 0.5) + x / (s ** 2 + 1)
            to = sigmas[i + 1]
            up = (to ** 2 * (s ** 2 - to ** 2) / s ** 2) ** 0.5
            down = (to ** 2 - up ** 2) ** 0.5
            x = x + (x - x0) / s * (down - s)
            x = x + draw() * up
        else:
            gamma = min(churn / (len(sigmas) - 1), 2 ** 0.5 - 1) if tmin <= s <= tmax else 0.0
            s_hat = s * (gamma + 1)
            if gamma > 0:
                x = x + draw() * snoise * (s_hat ** 2 - s ** 2) ** 0.5
            x0 = x - s_hat * outs[i] if pred == "epsilon" else outs[i] if pred == "sample" else outs[i] * (-s / (s ** 2 + 1) ** 0.5) + x / (s ** 2 + 1)
            x = x + (x - x0) / s_hat * (sigmas[i + 1] - s_hat)
        rec["prev"].append(x)
        rec["x0"].append(x0)
    rec["scaled_input"] = scaled
    rec["betas"], rec["alphas_cumprod"] = betas_for(cfg), abar


def run_dpm(cfg, n, outs, x, draw, opts, rec):
    abar = abar_for_sigmas(cfg)
    T = cfg["num_train_timesteps"]
    lam = torch.log(abar.sqrt()) - torch.log((1 - abar).sqrt())
    clipped = int(torch.searchsorted(torch.flip(lam, [0]), cfg["lambda_min_clipped"]))
    last_t = T - clipped
    spacing = cfg["timestep_spacing"]
    if spacing == "linspace":
        ts = np.linspace(0, last_t - 1, n + 1).round()[::-1][:-1].astype(np.int64)
    elif spacing == "leading":
        ts = (np.arange(n + 1) * (last_t // (n + 1))).round()[::-1][:-1].astype(np.int64) + cfg["steps_offset"]
    else:
        ts = (np.arange(last_t, 0, -T / n).round() - 1).astype(np.int64)
    table = train_sigmas(cfg, abar).numpy()
    if cfg.get("use_karras_sigmas", False):
        smin = cfg.get("sigma_min") if cfg.get("sigma_min") is not None else float(table[0])
        smax = cfg.get("sigma_max") if cfg.get("sigma_max") is not None else float(table[-1])
        sig = karras(smin, smax, n)
        logs = np.log(table)
        ts = np.array([sigma_to_t(s, logs) for s in sig])
        if cfg["beta_schedule"] != "squaredcos_cap_v2":
            ts = ts.round()
        ts = ts.astype(np.int64)
    else:
        sig = np.interp(ts, np.arange(T), table)
    last = float(table[0]) if cfg["final_sigmas_type"] == "sigma_min" else 0.0
    sigmas = torch.from_numpy(np.concatenate([sig, [last]]).astype(np.float32))
    rec["timesteps"], rec["sigmas"] = ts, sigmas

    def alpha_sigma(s):
        a = 1 / (s ** 2 + 1) ** 0.5
        return a, s * a

    def lam_of(a, s):
        return torch.log(a) - torch.log(s)

    order, sde, heun = cfg["solver_order"], cfg["algorithm_type"] == "sde-dpmsolver++", cfg["solver_type"] == "heun"
    history = []
    count = len(ts)
    for i in range(min(count, len(outs))):
        a_s0, s_s0 = alpha_sigma(sigmas[i])
        pred = cfg["prediction_type"]
        x0 = (x - s_s0 * outs[i]) / a_s0 if pred == "epsilon" else outs[i] if pred == "sample" else a_s0 * x - s_s0 * outs[i]
        if cfg["thresholding"]:
            x0 = threshold(cfg, x0)
        history = (history + [x0])[-order:]
        z = draw() if sde else None
        a_t, s_t = alpha_sigma(sigmas[i + 1])
        h = lam_of(a_t, s_t) - lam_of(a_s0, s_s0)
        final_first = i == count - 1 and (cfg["euler_at_final"] or (cfg["lower_order_final"] and count < 15) or cfg["final_sigmas_type"] == "zero")
        if order == 1 or len(history) < 2 or final_first:
            # DPM-Solver++(1) (= DDIM in x0 form), or its SDE variant.
            if sde:
                x = (s_t / s_s0 * torch.exp(-h)) * x + (a_t * (1 - torch.exp(-2.0 * h))) * x0 + s_t * torch.sqrt(1.0 - torch.exp(-2 * h)) * z
            else:
                x = (s_t / s_s0) * x - (a_t * (torch.exp(-h) - 1.0)) * x0
        else:
            a_s1, s_s1 = alpha_sigma(sigmas[i - 1])
            r0 = (lam_of(a_s0, s_s0) - lam_of(a_s1, s_s1)) / h
            d0, d1 = history[-1], (1.0 / r0) * (history[-1] - history[-2])
            if sde:
                e = torch.exp(-2.0 * h)
                c = (a_t * ((1.0 - e) / (-2.0 * h) + 1.0)) if heun else 0.5 * (a_t * (1 - e))
                x = (s_t / s_s0 * torch.exp(-h)) * x + (a_t * (1 - e)) * d0 + c * d1 + s_t * torch.sqrt(1.0 - e) * z
            elif heun:
                x = (s_t / s_s0) * x - (a_t * (torch.exp(-h) - 1.0)) * d0 + (a_t * ((torch.exp(-h) - 1.0) / h + 1.0)) * d1
            else:
                x = (s_t / s_s0) * x - (a_t * (torch.exp(-h) - 1.0)) * d0 - 0.5 * (a_t * (torch.exp(-h) - 1.0)) * d1
        rec["prev"].append(x)
        rec["x0"].append(x0)
    rec["betas"], rec["alphas_cumprod"] = betas_for(cfg), abar


def save(path, value):
    if isinstance(value, list):
        value = torch.stack(value) if len(value) and isinstance(value[0], torch.Tensor) else np.array(value)
    if isinstance(value, torch.Tensor):
        value = value.numpy()
    np.asarray(value, dtype="<f4").tofile(path)


def main():
    manifest = json.load(open(sys.argv[1]))
    out_dir = sys.argv[2]
    for case in manifest["cases"]:
        cfg = json.load(open(case["config"]))
        shape = case["shape"]
        n = case["steps"]
        outs = torch.from_numpy(np.fromfile(case["model_outputs"], dtype="<f4").reshape([-1] + shape))
        x = torch.from_numpy(np.fromfile(case["sample"], dtype="<f4").reshape(shape))
        noise = torch.from_numpy(np.fromfile(case["noise"], dtype="<f4").reshape([-1] + shape))
        drawn = [0]

        def draw():
            z = noise[drawn[0]]
            drawn[0] += 1
            return z

        rec = {"prev": [], "x0": []}
        kind = cfg["_class_name"]
        if kind == "DDPMScheduler":
            run_ddpm(cfg, n, outs, x, draw, case, rec)
        elif kind == "DDIMScheduler":
            run_ddim(cfg, n, outs, x, draw, case, rec)
        elif kind == "EulerDiscreteScheduler":
            run_euler(cfg, n, outs, x, draw, case, rec, ancestral=False)
        elif kind == "EulerAncestralDiscreteScheduler":
            run_euler(cfg, n, outs, x, draw, case, rec, ancestral=True)
        else:
            run_dpm(cfg, n, outs, x, draw, case, rec)
        for key, value in rec.items():
            save(f"{out_dir}/{case['name']}.{key}.f4", value)


main()
