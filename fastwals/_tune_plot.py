"""The trials of a search drawn with matplotlib (TuneResult.plot)."""

import math

_PANELS = [("elapsed", "elapsed seconds", False), ("factors", "factors", True),
           ("regularization", "regularization", True), ("reg_exponent", "reg_exponent", False),
           ("unobserved_weight", "unobserved_weight", True),
           ("unobserved_exponent", "unobserved_exponent (popularity)", False)]
_COLOURS = {"complete": "tab:blue", "pruned": "tab:grey", "cut": "tab:orange"}


def plot_trials(result, path):
    try:
        import matplotlib
        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plotting the trials needs matplotlib: pip install "
                          "'fastwals[plot]' (or pip install matplotlib)") from None
    trials = [t for t in result.trials if t["score"] is not None
              and math.isfinite(t["score"])]
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5), constrained_layout=True)
    for ax, (key, label, log) in zip(axes.flat, _PANELS):
        shown = [t for t in trials if t.get(key) is not None]
        for state, colour in _COLOURS.items():
            for later, marker in ((False, "o"), (True, "^")):  # ^: grown or refined k
                pts = [t for t in shown if t["state"] == state
                       and (t["phase"] != "search") == later]
                if pts:
                    ax.scatter([t[key] for t in pts], [t["score"] for t in pts], s=18,
                               c=colour, marker=marker, alpha=0.8,
                               label=state + (" (phases 2-3)" if later else ""))
        if key == "elapsed" and shown:  # the best so far, as a step line
            xs, ys, best = [], [], -math.inf
            for t in sorted(shown, key=lambda t: t["elapsed"]):
                if t["state"] != "pruned":
                    best = max(best, t["score"])
                if math.isfinite(best):
                    xs.append(t["elapsed"])
                    ys.append(best)
            ax.step(xs, ys, where="post", c="tab:red", label="best so far")
            ax.legend(fontsize=8)
        if log:
            ax.set_xscale("log", base=2 if key == "factors" else 10)
        ax.set_xlabel(label)
        ax.set_ylabel(f"validation {result.metric}")
        ax.grid(alpha=0.3)
    fig.suptitle(f"fastwals tune: {len(result.trials)} trials in {result.seconds:.0f} s, "
                 f"best {result.metric} {result.best_score:.4f}")
    fig.savefig(path, dpi=110)
    plt.close(fig)
