"""The model card (README.md) of an exported model: origin, data, metrics, settings, usage."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

TASK_TITLES = {
    "csts": "conditional semantic textual similarity (C-STS)",
    "kgc": "knowledge-graph completion (WN18RR-style triples)",
}


@dataclass
class ModelCard:
    """Facts about an exported model, from its registered version, its run and config.json."""

    model_uri: str
    task: str
    config: dict[str, Any]
    registered_model: str | None = None
    version: str | None = None
    aliases: list[str] = field(default_factory=list)
    space: str | None = None
    metric: str | None = None
    mode: str | None = None
    data_digest: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    hyperparameters: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None
    parent_run_id: str | None = None
    condition_encoder: bool = False
    test_predictions: bool = False


def render_model_card(card: ModelCard) -> str:
    """Return the model card as Markdown."""
    sections = [
        _header(card),
        _origin(card),
        _metrics(card),
        _hyperparameters(card),
        _usage(card),
        _files(card),
        _configuration(card),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _header(card: ModelCard) -> str:
    title = card.registered_model or "hypercl model"
    if card.version is not None:
        title += f" version {card.version}"
    task = TASK_TITLES.get(card.task, card.task)
    return (
        f"# {title}\n\n"
        f"A Hyper-CL model for {task}, exported from MLflow by `python -m tracking.export`. "
        "The folder is self-contained and loads without MLflow."
    )


def _origin(card: ModelCard) -> str:
    rows = [
        ("Task", card.task),
        ("Exported from", f"`{card.model_uri}`"),
        ("Registered model", card.registered_model),
        ("Version", card.version),
        ("Aliases", ", ".join(card.aliases) if card.aliases else None),
        ("Search space", card.space),
        ("Selection metric", f"{card.metric} (mode {card.mode})" if card.metric else None),
        ("Data digest", f"`{card.data_digest}`" if card.data_digest else "unknown"),
        ("Trial run", f"`{card.run_id}`" if card.run_id else None),
        ("Study run", f"`{card.parent_run_id}`" if card.parent_run_id else None),
    ]
    return "## Origin\n\n" + _table(("Field", "Value"), [row for row in rows if row[1]])


def _metrics(card: ModelCard) -> str:
    if not card.metrics:
        return "## Metrics\n\nNo metrics were recorded with this model."
    rows = [(name, f"{value:.4f}") for name, value in sorted(card.metrics.items())]
    note = (
        "Metrics of this checkpoint: the values tagged on the registered version, or else the "
        "last values logged in its run. C-STS correlations (`val_spearman`, `val_pearson`) "
        "are multiplied by 100."
    )
    return "## Metrics\n\n" + note + "\n\n" + _table(("Metric", "Value"), rows)


def _hyperparameters(card: ModelCard) -> str:
    if not card.hyperparameters:
        return ""
    rows = [(name, f"`{value}`") for name, value in sorted(card.hyperparameters.items())]
    return "## Hyperparameters of the trial\n\n" + _table(("Parameter", "Value"), rows)


def _usage(card: ModelCard) -> str:
    if card.task == "kgc":
        call = 'model.predict_tails(["00260881"], ["_hypernym"], k=10)'
    else:
        call = (
            'model.similarity(["A man plays a guitar."], ["A woman plays a violin."], '
            '["The instrument."])'
        )
    return (
        "## Usage\n\n"
        "```python\n"
        "import hypercl\n\n"
        'model = hypercl.load("path/to/this/folder")\n'
        f"{call}\n"
        "```"
    )


def _files(card: ModelCard) -> str:
    lines = [
        "- `config.json`: the resolved training configuration.",
        "- `encoder/`: the encoder and its tokenizer (`save_pretrained`, safetensors).",
        "- `head.safetensors`: every weight outside the encoders (condition transform, head).",
    ]
    if card.condition_encoder:
        lines.append("- `condition_encoder/`: the second encoder (conditions or tail entities).")
    if card.test_predictions:
        lines.append(
            '- `test_predictions.json`: one score per C-STS test row, `{"0": score, ...}` in '
            "file order. The data set itself is not included."
        )
    return "## Files\n\n" + "\n".join(lines)


def _configuration(card: ModelCard) -> str:
    text = json.dumps(card.config, indent=2, sort_keys=True)
    return f"## Training configuration\n\n```json\n{text}\n```"


def _table(header: tuple[str, str], rows: list[tuple[str, Any]]) -> str:
    lines = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    lines += [f"| {name} | {_cell(value)} |" for name, value in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")
