"""Bundled real scaling-law measurements, loadable by name.

Each dataset ships with the PROVENANCE file of its source (paper, repository, licence, units) and
reaches the user as a pandas DataFrame in raw counts; ``df.attrs`` carries the provenance, the
citation and the published reference fit that the tests check.

Example:
    >>> import bayescale as bs
    >>> df = bs.datasets.load("chinchilla")            # all 245 digitised points
    >>> df = bs.datasets.load("chinchilla", variant="epoch")  # Epoch's 240-point subset
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

import numpy as np
import pandas as pd

from .._errors import InvalidValueError, UnknownNameError

__all__ = ["load", "names", "provenance"]


def _read(folder: str, filename: str) -> pd.DataFrame:
    path = resources.files(__name__).joinpath("_data", folder, filename)
    with path.open("r") as fh:
        return pd.read_csv(fh)


def provenance(name: str) -> str:
    """The PROVENANCE text of a bundled dataset."""
    folder = _REGISTRY[_check(name)]["folder"]
    return resources.files(__name__).joinpath("_data", folder, "PROVENANCE.txt").read_text()


def _chinchilla(variant: str | None) -> pd.DataFrame:
    raw = _read("chinchilla", "svg_extracted_data.csv")
    n = raw["Model Size"].to_numpy(np.float64)
    c = raw["Training FLOP"].to_numpy(np.float64)
    df = pd.DataFrame({"N": n, "D": c / (6.0 * n), "C": c, "loss": raw["loss"].to_numpy()})
    df.attrs["dropped"] = "none"
    if variant == "epoch":
        drop = df["loss"].nlargest(5).index
        df = df.drop(drop)
        df.attrs["dropped"] = (
            f"the 5 highest-loss points (rows {list(drop)}), as Besiroglu et al. (2024) did"
        )
    elif variant is not None:
        raise InvalidValueError(
            f"chinchilla has variants None (all 245 rows) and 'epoch'; got {variant!r}"
        )
    return df


_REGISTRY: dict[str, dict] = {
    "chinchilla": {
        "folder": "chinchilla",
        "loader": _chinchilla,
        "description": "Hoffmann et al. (2022) Fig. 4 points digitised by Epoch AI: N, "
        "D=C/(6N), C, "
        "final training loss (nats/token). 245 rows; variant='epoch' drops the 5 highest-loss.",
        "citation": "Hoffmann et al. (2022), arXiv:2203.15556; Besiroglu et al. (2024), "
        "arXiv:2404.10102 (digitisation); distributed in IBM/ColPret (MIT).",
        # Epoch's refit: point estimate and 95% bootstrap interval (PROVENANCE.txt).
        "reference": {
            "E": (1.817, 1.769, 1.871),
            "A": (482.01, 285.2, 743.6),
            "B": (2085.43, 1042.4, 5810.3),
            "alpha": (0.348, 0.317, 0.373),
            "beta": (0.366, 0.331, 0.415),
        },
    },
}


def _check(name: str) -> str:
    if name not in _REGISTRY:
        raise UnknownNameError(f"unknown dataset {name!r}; bundled datasets: {names()}")
    return name


def register(
    name: str,
    folder: str,
    loader: Callable[[str | None], pd.DataFrame],
    *,
    description: str,
    citation: str,
    reference: dict | None = None,
) -> None:
    """Add a bundled dataset (used by the catalog modules that ship their own data)."""
    _REGISTRY[name] = {
        "folder": folder,
        "loader": loader,
        "description": description,
        "citation": citation,
        "reference": reference or {},
    }


def names() -> list[str]:
    """Names of the bundled datasets."""
    return sorted(_REGISTRY)


def load(name: str, *, variant: str | None = None) -> pd.DataFrame:
    """Load a bundled dataset as a DataFrame of raw counts.

    Args:
        name: One of :func:`names`.
        variant: A documented subset (e.g. ``"epoch"`` for Chinchilla's 240 points).

    Returns:
        The table; ``attrs`` holds ``name``, ``description``, ``citation``, ``provenance``,
        ``reference`` (published fit) and ``dropped`` (which rows a variant removed).
    """
    entry = _REGISTRY[_check(name)]
    df = entry["loader"](variant)
    df.attrs.update(
        name=name,
        description=entry["description"],
        citation=entry["citation"],
        provenance=provenance(name),
        reference=entry["reference"],
    )
    return df


# --- datablations and obsscaling ---------------------------------------
def _datablations(variant: str | None) -> pd.DataFrame:
    raw = _read("datablations", "datablations_c4_final_val_loss.csv")
    df = pd.DataFrame(
        {
            "run": raw["run_name"].astype(str),
            "N": raw["N_params"].to_numpy(np.float64),
            "D": raw["D_tokens"].to_numpy(np.float64),
            "U": raw["U_unique_tokens"].to_numpy(np.float64),
            "epochs": raw["epochs"].to_numpy(np.float64),
            "loss": raw["val_loss"].to_numpy(np.float64),
        }
    )
    df.attrs["dropped"] = "none"
    if variant == "few_epochs":
        keep = df["epochs"] <= 2.5
        df = df[keep].copy()
        df.attrs["dropped"] = (
            f"the {int((~keep).sum())} runs with more than 2.5 epochs (the notebook's "
            "tied-exponent Chinchilla fit uses the 62 runs with epochs <= 2.5)"
        )
    elif variant is not None:
        raise InvalidValueError(
            f"datablations has variants None (all 296 runs) and 'few_epochs' (the 62 runs with "
            f"<= 2.5 epochs); got {variant!r}"
        )
    return df


_OBSSCALING_FILES = {
    None: "base_llm_emergent_capability_eval.csv",
    "benchmark": "base_llm_benchmark_eval.csv",
    "sub_10b": "base_llm_benchmark_eval_sub_10b.csv",
}


def _obsscaling(variant: str | None) -> pd.DataFrame:
    if variant not in _OBSSCALING_FILES:
        raise InvalidValueError(
            "obsscaling has variants None (83 models x BIG-bench 'emergent' tasks), 'benchmark' "
            f"(148 models x 8 standard benchmarks) and 'sub_10b' (92 models); got {variant!r}"
        )
    meta = _read("obsscaling", "base_llm_benchmark_eval.csv")
    cols = ["Model", "Model Family", "Model Size (B)", "Pretraining Data Size (T)", "FLOPs (1E21)"]
    raw = _read("obsscaling", _OBSSCALING_FILES[variant])
    if variant is None:
        raw = raw.merge(meta[cols], on="Model", how="left")
    tasks = [c for c in raw.columns if c not in cols]
    df = pd.DataFrame(
        {
            "model": raw["Model"].astype(str),
            "family": raw["Model Family"].astype(str),
            "N": raw["Model Size (B)"].to_numpy(np.float64) * 1e9,
            "D": raw["Pretraining Data Size (T)"].to_numpy(np.float64) * 1e12,
            "C": raw["FLOPs (1E21)"].to_numpy(np.float64) * 1e21,
        }
    )
    for t in tasks:
        df[t] = raw[t].to_numpy(np.float64)
    df.attrs["dropped"] = "none (rows with unknown D or C keep NaN there; drop them to fit C)"
    df.attrs["tasks"] = tasks
    return df


register(
    "datablations",
    "datablations",
    _datablations,
    description="Muennighoff et al. (2023) data-constrained runs: N (parameters), D (total "
    "tokens), U (unique tokens), epochs = D/U, final C4 validation loss (nats/token). 296 runs; "
    "variant='few_epochs' keeps the 62 with <= 2.5 epochs.",
    citation="Muennighoff et al. (2023), Scaling Data-Constrained Language Models, "
    "arXiv:2305.16264; https://github.com/huggingface/datablations (Apache-2.0).",
    reference={
        # notebook cell 16, tied-exponent Chinchilla on the 62 few-epoch runs
        "tied_log_A": 6.4526,
        "tied_log_B": 8.0230,
        "tied_log_E": 0.6399,
        "tied_alpha": 0.3595,
        # the paper / README, data-constrained law on all runs
        "R_D_star": 15.387756,
        "R_N_star": 5.309743,
    },
)

register(
    "obsscaling",
    "obsscaling",
    _obsscaling,
    description="Ruan et al. (2024) observational scaling: accuracies in [0, 1] of public base "
    "LLMs with N (parameters), D (tokens), C = 6ND (FLOPs) and model family. Default: 83 models "
    "on BIG-bench tasks the paper calls emergent (arithmetic_* and word_unscrambling have 2000 "
    "questions each); variant='benchmark': 148 models x 8 benchmarks (MMLU, ARC-C, GSM8K...); "
    "'sub_10b': 92 models. df.attrs['tasks'] lists the accuracy columns.",
    citation="Ruan, Maddison, Hashimoto (2024), Observational Scaling Laws and the "
    "Predictability of Language Model Performance, arXiv:2405.10938; "
    "https://github.com/ryoungj/ObsScaling (Apache-2.0).",
)


# --- bnsl_addition and gpt3_curves ---
def _bnsl_addition(variant: str | None) -> pd.DataFrame:
    raw = _read("bnsl", "four_digit_addition_dataset_size.csv")
    df = pd.DataFrame(
        {
            "examples": raw["train_dataset_size"].to_numpy(np.float64),
            "loss": raw["test_cross_entropy"].to_numpy(np.float64),
            "split": raw["split"].astype(str),
        }
    )
    df.attrs["dropped"] = "none"
    if variant in ("fit", "extrapolate"):
        df = df[df["split"] == variant].copy()
        df.attrs["dropped"] = f"every row whose split is not {variant!r}"
    elif variant is not None:
        raise InvalidValueError(
            f"bnsl_addition has variants None (all 17 points), 'fit' (the first 14) and "
            f"'extrapolate' (the last 3); got {variant!r}"
        )
    return df


# GPT-3 paper Table 2.1: parameters and batch size in tokens (gpt3_metadata.csv).
_GPT3_MODELS = {
    "small": ("GPT-3 Small", 125e6, 0.5e6),
    "medium": ("GPT-3 Medium", 350e6, 0.5e6),
    "large": ("GPT-3 Large", 760e6, 0.5e6),
    "xl": ("GPT-3 XL", 1.3e9, 1e6),
    "2.7b": ("GPT-3 2.7B", 2.7e9, 1e6),
    "6.7b": ("GPT-3 6.7B", 6.7e9, 2e6),
    "13b": ("GPT-3 13B", 13e9, 2e6),
    "175b": ("GPT-3 175B", 175e9, 3.2e6),
}


def _gpt3_curves(variant: str | None) -> pd.DataFrame:
    raw = _read("colpret", "gpt3_extracted_curves.csv")
    which = "train_loss" if variant == "train" else "val_loss"
    if variant not in (None, "train", "binned"):
        raise InvalidValueError(
            f"gpt3_curves has variants None (digitised validation-loss points), 'train' "
            f"(digitised training-loss points) and 'binned' (validation loss, median per model "
            f"in 0.05-decade token bins); got {variant!r}"
        )
    raw = raw.dropna(subset=[which])
    model = raw["model"].astype(str)
    unknown = sorted(set(model) - set(_GPT3_MODELS))
    if unknown:
        raise InvalidValueError(f"gpt3_curves: column 'model' has unknown model names {unknown}")
    tokens = raw["step"].to_numpy(np.float64) * 1e9  # the CSV stores billions of tokens
    df = pd.DataFrame(
        {
            "model": model.to_numpy(),
            "N": model.map(lambda m: _GPT3_MODELS[m][1]).to_numpy(np.float64),
            "D": tokens,
            "S": tokens / model.map(lambda m: _GPT3_MODELS[m][2]).to_numpy(np.float64),
            "loss": raw[which].to_numpy(np.float64),
        }
    )
    df.attrs["dropped"] = f"rows without {which}"
    if variant == "binned":
        bins = np.floor(np.log10(df["D"]) / 0.05)
        df = (
            df.groupby(["model", bins], sort=False)
            .median(numeric_only=True)
            .reset_index(level=1, drop=True)
            .reset_index()
        )
        df.attrs["dropped"] = "rows without val_loss; points merged by median per 0.05-decade bin"
    return df.sort_values(["N", "D"], kind="stable").reset_index(drop=True)


register(
    "bnsl_addition",
    "bnsl",
    _bnsl_addition,
    description="Caballero et al. (2023) Fig. 4 (left): 4-digit addition test cross-entropy "
    "(loss, nats) vs training-set size (examples, a raw count of examples). 17 points; split "
    "'fit' = the first 14, 'extrapolate' = the last 3 (variants 'fit', 'extrapolate').",
    citation="Caballero et al. (2023), Broken Neural Scaling Laws, ICLR 2023, arXiv:2210.14891; "
    "https://github.com/ethancaballero/broken_neural_scaling_laws (no licence file).",
)

register(
    "gpt3_curves",
    "colpret",
    _gpt3_curves,
    description="GPT-3 learning curves digitised from Brown et al. (2020) Fig. 4.1 by ColPret: "
    "model, N (parameters, Table 2.1, embeddings included, unlike Kaplan's N), "
    "D (tokens seen, raw; the CSV stores billions), "
    "S = D / batch size in tokens (approximate optimizer steps; the early batch ramp-up is "
    "ignored), loss (validation loss, nats/token; variant='train': training loss; "
    "variant='binned': validation loss, median per model and 0.05-decade token bin).",
    citation="Brown et al. (2020), Language Models are Few-Shot Learners, arXiv:2005.14165; "
    "digitised in Choshen, Zhang, Andreas (2025), arXiv:2410.11840, "
    "https://github.com/IBM/ColPret (MIT).",
)


# --- revisiting_nmt (hierarchical laws) ---
def _revisiting_nmt(variant: str | None) -> pd.DataFrame:
    raw = _read("colpret", "revisiting_lang.csv")
    raw = raw[(raw["Domain"] == "NMT") & (raw["Task"] == "log_perplexity")]
    split = raw["Training"].map({1: "fit", 0: "extrapolate"})
    if split.isna().any():
        rows = list(raw.index[split.isna()][:5])
        raise InvalidValueError(f"revisiting_nmt: column 'Training' is not 0/1 at row(s) {rows}")
    df = pd.DataFrame(
        {
            "arch": raw["Model"].astype(str).to_numpy(),
            "D": raw["Seen Examples"].to_numpy(np.float64),
            "loss": raw["Loss"].to_numpy(np.float64),
            "split": split.to_numpy(),
        }
    )
    df.attrs["dropped"] = "none"
    if variant in ("fit", "extrapolate"):
        df = df[df["split"] == variant].reset_index(drop=True)
        df.attrs["dropped"] = f"every row whose split is not {variant!r}"
    elif variant is not None:
        raise InvalidValueError(
            f"revisiting_nmt has variants None (all 53 points), 'fit' (Training == 1, 48 points) "
            f"and 'extrapolate' (Training == 0: the largest D of each architecture, 5 points); "
            f"got {variant!r}"
        )
    return df


register(
    "revisiting_nmt",
    "colpret",
    _revisiting_nmt,
    description="Alabdulmohsin et al. (2022) neural machine translation learning curves: arch "
    "(5 architectures: '6 Enc, 6 Dec', '28 Enc, 6 Dec', '6 Enc, 28 Dec', 'Dec-only', "
    "'TEnc-LSTM'), D (training examples seen, raw count, 5e5 to 5.12e8), loss (validation "
    "log-perplexity, nats/token), split ('fit' = the paper's Training == 1, 'extrapolate' = 0: "
    "the largest D of each architecture). 53 points; variants 'fit' and 'extrapolate'.",
    citation="Alabdulmohsin, Neyshabur, Zhai (2022), Revisiting Neural Scaling Laws in Language "
    "and Vision, NeurIPS 2022, arXiv:2209.06640 (google-research, Apache-2.0); collected in "
    "Choshen, Zhang, Andreas (2025), arXiv:2410.11840, https://github.com/IBM/ColPret (MIT).",
)


# --- farseer, gemstones and routing: ladders for robustness and forecast truth ---
def _farseer(variant: str | None) -> pd.DataFrame:
    if variant is not None:
        raise InvalidValueError(
            f"farseer has only the variant None (all 404 runs); got {variant!r}"
        )
    raw = _read("farseer", "farseer_train.csv")
    df = pd.DataFrame(
        {
            "N": raw["N_params"].to_numpy(np.float64),
            "D": raw["D_tokens"].to_numpy(np.float64),
            "C": raw["C_6ND"].to_numpy(np.float64),
            "loss": raw["loss_bpc"].to_numpy(np.float64),
        }
    )
    df.attrs["dropped"] = "none (4 exact duplicate rows of the source are kept)"
    df.attrs["units"] = {"loss": "bits per character"}
    return df


_GEMSTONES_VARIANTS = ("logspaced", "grid10b", "lr_half", "all", "cooldown")


def _gemstones(variant: str | None) -> pd.DataFrame:
    if variant is not None and variant not in _GEMSTONES_VARIANTS:
        raise InvalidValueError(
            f"gemstones has variants None (series 'main': 22 runs x 175 checkpoints, 3850 rows), "
            f"'logspaced' (main, 30 log-spaced checkpoints per run), 'grid10b' (main, the "
            f"repo's 10B-token grid), 'lr_half' (the half-learning-rate runs), 'all' (4850 "
            f"rows) and 'cooldown' (398 cooldown begin/end rows); got {variant!r}"
        )
    cooldown = variant == "cooldown"
    raw = _read("gemstones", "gemstones_cooldown.csv" if cooldown else "gemstones_curves.csv")
    df = pd.DataFrame(
        {
            "run": raw["run_name"].str.removeprefix("PyGemma-").str.removesuffix("_pretrain"),
            "series": raw["phase"] if cooldown else raw["series"],
            "width": raw["width"].to_numpy(np.int64),
            "depth": raw["depth"].to_numpy(np.int64),
            "N": raw["N_params"].to_numpy(np.float64),
            "D": raw["D_tokens"].to_numpy(np.float64),
            "C": raw["C_6ND"].to_numpy(np.float64),
            "loss": raw["loss"].to_numpy(np.float64),
        }
    )
    df.attrs["dropped"] = "none"
    if variant in (None, "logspaced", "grid10b"):
        keep = raw["series"] == "main"
        if variant is not None:
            keep &= raw[variant] == 1
        df = df[keep.to_numpy()].reset_index(drop=True)
        df.attrs["dropped"] = "every row not in series 'main'" + (
            f" or not flagged {variant!r}" if variant else ""
        )
    elif variant == "lr_half":
        df = df[df["series"] == "lr_half"].reset_index(drop=True)
        df.attrs["dropped"] = "every row not in series 'lr_half'"
    return df


def _routing(variant: str | None) -> pd.DataFrame:
    if variant not in (None, "routed", "final"):
        raise InvalidValueError(
            f"routing has variants None (the 13 dense runs' curves, step 0 excluded), 'routed' "
            f"(the 210 routed runs' curves, step 0 excluded) and 'final' (every run's last "
            f"evaluation); got {variant!r}"
        )
    dense = _read("routing", "routing_dense_curves.csv")
    if variant is None:
        raw = dense
    else:
        raw = pd.concat([dense, _read("routing", "routing_routed_curves.csv")], ignore_index=True)
        if variant == "routed":
            raw = raw[raw["router_type"] != "Dense"]
    df = pd.DataFrame(
        {
            "run": raw["hyper_id"].to_numpy(np.int64),
            "router": raw["router_type"].astype(str).to_numpy(),
            "experts": raw["num_experts"].to_numpy(np.float64),
            "N": raw["dense_parameter_count"].to_numpy(np.float64),
            "P": raw["total_parameter_count"].to_numpy(np.float64),
            "S": raw["step"].to_numpy(np.float64),
            "loss": raw["loss_validation"].to_numpy(np.float64),
            "final": raw["is_final_step"].to_numpy(np.int64) == 1,
        }
    )
    untrained = df["S"] == 0
    missing = ~np.isfinite(df["loss"])
    keep = ~(untrained | missing)
    if variant == "final":
        keep &= df["final"]
    df = df[keep.to_numpy()].reset_index(drop=True)
    df.attrs["dropped"] = (
        f"{int(untrained.sum())} step-0 rows (untrained losses ~10.8), {int(missing.sum())} "
        "rows without loss_validation"
        + (", every row but each run's last" if variant == "final" else "")
    )
    return df


register(
    "farseer",
    "farseer",
    _farseer,
    description="Farseer (Li et al. 2025) N x D grid via ScaleBench: 25 model sizes 1e8-6.4e9 "
    "parameters (N), 1e9-5.1e11 tokens (D), C = 6ND, loss in BITS PER CHARACTER (not nats per "
    "token; no conversion factor is published). 404 runs.",
    citation="Li et al. (2025), Farseer: A Refined Scaling Law in Large Language Models, "
    "arXiv:2506.10972; redistributed in ScaleBench (Li et al. 2026, arXiv:2604.22753, "
    "https://github.com/PlanarG/active-sl, MIT; dataset card CC-BY-4.0).",
)

register(
    "gemstones",
    "gemstones",
    _gemstones,
    description="Gemstones (McLeish et al. 2025): validation-loss curves (nats/token) of 22 "
    "width x depth transformers, 48M-2B parameters (N, all parameters incl. embeddings), D "
    "tokens seen (to 350B), C = 6ND; run ('<width>x<depth>'), series, width, depth. Default: "
    "series 'main', 3850 rows; variants 'logspaced', 'grid10b', 'lr_half', 'all', 'cooldown'.",
    citation="McLeish et al. (2025), Gemstones: A Model Suite for Multi-Faceted Scaling Laws, "
    "NeurIPS 2025, arXiv:2502.06857; https://github.com/mcleish7/gemstone-scaling-laws (MIT).",
    reference={
        # approach-3 Huber fit stored in the repo: series main, grid10b, step <= 23850 (220 pts)
        "alpha": 0.2989180518,
        "beta": 0.6928331414,
        "log_A": 5.4574988414,
        "log_B": 14.9719740349,
        "log_E": 0.7663168139,
    },
)

register(
    "routing",
    "routing",
    _routing,
    description="Clark et al. (2022) routed-LM learning curves, one evaluation every 10k "
    "steps: run (hyper_id), router (Dense, S-Base, RL-R, Hash), experts, N (parameters one "
    "token sees), P (all parameters), S (optimizer steps; tokens are not published), loss "
    "(validation, nats/token), final (the run's last evaluation). Default: the 13 dense runs "
    "(326 rows); variants 'routed' and 'final'.",
    citation="Clark et al. (2022), Unified Scaling Laws for Routed Language Models, ICML 2022, "
    "arXiv:2202.01169; https://github.com/google-deepmind/scaling_laws_for_routing "
    "(data CC-BY 4.0, Copyright 2022 DeepMind Technologies Limited; columns renamed here).",
)
