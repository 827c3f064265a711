"""Write the evaluation report: results.json (everything), report.json and report.md (the
side-by-side tables) and index.html (tables and figures)."""

from __future__ import annotations

import html
from pathlib import Path

from sea.manifest import atomic_write_bytes, atomic_write_json

PER_CLASS_NAME = {"accuracy": "recall, the accuracy within the class", "micro_auprc": "AUPRC"}
# Which way is better: every score the protocols compute is better when higher.
HIGHER_IS_BETTER = ("accuracy", "balanced_accuracy", "micro_auprc", "macro_auprc")


def metric_label(metric: str, name: str | None = None) -> str:
    """`accuracy (higher is better)`: a score's name (default: the metric's) with the
    direction in which `metric` is better."""
    return f"{name or metric} ({'higher' if metric in HIGHER_IS_BETTER else 'lower'} is better)"


def _fmt(value, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def score_rows(results: dict) -> list[dict]:
    """One row per (model, method) with the headline score and the model's footprint."""
    metric = results["protocol"]["metric"]
    rows = []
    for model in results["models"]:
        for key, summary in model.get("methods", {}).items():
            latency = model.get("network_latency_ms")
            rows.append({
                "model": model["name"], "model_id": model["id"], "method": key,
                "description": model.get("description", ""),
                "metric": metric, "mean": summary["mean"][metric], "std": summary["std"][metric],
                "folds": {f["fold"]: f[metric] for f in summary["folds"]},
                "secondary": {m: [summary["mean"][m], summary["std"][m]]
                              for m in summary["mean"] if m != metric},
                "num_params": model.get("num_params"), "size_bytes": model.get("size_bytes"),
                "dim": model.get("dim"), "pooled": summary.get("pooled", {}).get(metric),
                "latency_ms_per_window": latency,
                "per_class": summary["per_class"],
            })
    return rows


def report_tables(results: dict) -> dict:
    """The side-by-side tables as plain data (report.json)."""
    rows = score_rows(results)
    classes, metric = results["store"]["classes"], results["protocol"]["metric"]
    columns = [f"{r['model']} {r['method']}" for r in rows]
    return {
        "protocol": results["protocol"], "notes": results["notes"],
        "scores": [{k: v for k, v in r.items() if k != "per_class"} for r in rows],
        "per_class": {"score": metric_label(metric, PER_CLASS_NAME[metric]),
                      "columns": columns,
                      "rows": {c: [r["per_class"].get(c) for r in rows] for c in classes}},
        "skipped_models": [{"model": m["spec"], "reason": m["error"]}
                           for m in results["models"] if "error" in m],
    }


def _score_table(tables: dict) -> tuple[list[str], list[list[str]]]:
    metric = tables["protocol"]["metric"]
    head = ["model", "what it is", "method", f"{metric_label(metric)}: mean ± std", "per fold",
            "params", "size (MB, smaller is better)", "dim",
            "latency (ms/window, lower is better)"]
    body = []
    for r in tables["scores"]:
        extra = "; ".join(f"{metric_label(m)} {_fmt(v[0])} ± {_fmt(v[1])}"
                          for m, v in r["secondary"].items())
        if r["pooled"] is not None:  # the AP of the PR-curve figure
            extra += f"; pooled out-of-fold {metric} {_fmt(r['pooled'])}"
        body.append([r["model"], r["description"], r["method"],
                     f"**{_fmt(r['mean'])} ± {_fmt(r['std'])}** ({extra})",
                     " ".join(f"{k}:{_fmt(v, 2)}" for k, v in r["folds"].items()),
                     "" if r["num_params"] is None else f"{r['num_params']:,}",
                     "" if r["size_bytes"] is None else f"{r['size_bytes'] / 1e6:.2f}",
                     str(r["dim"] or ""), _fmt(r["latency_ms_per_window"], 2)])
    return head, body


def _class_table(tables: dict) -> tuple[list[str], list[list[str]]]:
    pc = tables["per_class"]
    body = [[c, *(_fmt(v) for v in vals)] for c, vals in pc["rows"].items()]
    return ["class", *pc["columns"]], body


def _markdown_table(head: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in body]
    return "\n".join(lines)


def _html_table(head: list[str], body: list[list[str]]) -> str:
    def cell(tag: str, text: str) -> str:
        text = html.escape(text)
        if text.startswith("**"):  # the bold headline score of the markdown table
            text = "<b>" + text[2:].replace("**", "</b>", 1)
        return f"<{tag}>{text}</{tag}>"

    rows = ["<tr>" + "".join(cell("th", h) for h in head) + "</tr>"]
    rows += ["<tr>" + "".join(cell("td", c) for c in row) + "</tr>" for row in body]
    return "<table>\n" + "\n".join(rows) + "\n</table>"


def _header_lines(results: dict) -> list[str]:
    store, protocol = results["store"], results["protocol"]
    return [f"Protocol `{protocol['name']}`: {protocol['description']}.",
            f"Store `{store['path']}` (content {store['content_sha256'][:12]}): "
            f"{store['clips']} clips of {', '.join(store['datasets'])}, {len(store['classes'])} "
            f"classes, folds {', '.join(store['folds'])}; frame hop {results['hop_seconds']} s.",
            "Scores are mean ± std over the test folds/splits; latency is the network's own "
            "time per 1-s window as `sea bench` measures it (median of single-window calls after "
            "a warm-up, log-mel in; TFLite for bundles, torch otherwise) on the host that wrote "
            "this report; size is float32 weights (the .tflite file for bundles)."]


def summary_text(results: dict) -> str:
    """The score table as plain text for the terminal (what `sea evaluate` prints at the end)."""
    metric = results["protocol"]["metric"]
    head = ["model", "what it is", "method", f"{metric} mean ± std", "pooled", "params",
            "size MB", "ms/window"]
    body = [[r["model"], r["description"], r["method"], f"{_fmt(r['mean'])} ± {_fmt(r['std'])}",
             _fmt(r["pooled"]),
             "" if r["num_params"] is None else f"{r['num_params']:,}",
             "" if r["size_bytes"] is None else f"{r['size_bytes'] / 1e6:.2f}",
             _fmt(r["latency_ms_per_window"], 2)] for r in score_rows(results)]
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in [head, ["-" * w for w in widths], *body]]
    lines += [f"model {m['spec']} skipped: {m['error']}" for m in results["models"] if "error" in m]
    store = results["store"]
    return "\n".join([f"protocol {results['protocol']['name']}: {store['clips']} clips, "
                      f"{len(store['classes'])} classes, folds {', '.join(store['folds'])}; "
                      f"{metric_label(metric)}; size and ms/window: lower is better", *lines])


def write_report(out_dir: Path, results: dict) -> dict[str, Path]:
    out_dir = Path(out_dir)
    tables = report_tables(results)
    atomic_write_json(out_dir / "results.json", results)
    atomic_write_json(out_dir / "report.json", tables)
    scores, per_class = _score_table(tables), _class_table(tables)
    figures = [(m["name"], title, path) for m in results["models"]
               for title, path in m.get("figures", {}).items()]
    figures += [("all models", t, p) for t, p in results.get("figures", {}).items()]
    notes = [*tables["notes"], *(f"model {s['model']} skipped: {s['reason']}"
                                 for s in tables["skipped_models"])]

    md = ["# sea evaluate report", "", *_header_lines(results), ""]
    md += [f"- {n}" for n in notes] + ([""] if notes else [])
    md += ["## Scores", "", _markdown_table(*scores), "",
           f"## Per-class {tables['per_class']['score']}", "", _markdown_table(*per_class), "",
           "## Figures", ""]
    md += [f"- {name}: [{title}]({path})" for name, title, path in figures]
    atomic_write_bytes(out_dir / "report.md", ("\n".join(md) + "\n").encode())

    page = ["<!doctype html><html><head><meta charset='utf-8'><title>sea evaluate</title>",
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}"
            "img{max-width:100%;margin:6px;border:1px solid #eee}</style></head><body>",
            "<h1>sea evaluate report</h1>"]
    page += [f"<p>{html.escape(line).replace('`', '')}</p>" for line in _header_lines(results)]
    if notes:
        page.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    page += ["<h2>Scores</h2>", _html_table(*scores),
             f"<h2>Per-class {html.escape(tables['per_class']['score'])}</h2>",
             _html_table(*per_class), "<h2>Figures</h2>"]
    page += [f"<figure><img src='{html.escape(str(path))}' alt='{html.escape(title)}'>"
             f"<figcaption>{html.escape(name)}: {html.escape(title)}</figcaption></figure>"
             for name, title, path in figures]
    page.append("</body></html>")
    atomic_write_bytes(out_dir / "index.html", "\n".join(page).encode())
    return {n: out_dir / n for n in ("results.json", "report.json", "report.md", "index.html")}
