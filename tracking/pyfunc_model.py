"""The MLflow pyfunc wrapper of a hypercl model folder, logged as a model from code.

``tracking.registry`` logs this file itself as the ``python_model``. MLflow copies it into the
MLflow model and, when the model is loaded, executes it under a generated module name. The
``set_model`` call at the bottom then provides the model, so no pickled Python object is stored.
For that reason the file imports only mlflow, pandas and ``hypercl``, never ``tracking``.

Inputs and outputs, by the task in the folder's config.json:

- ``csts``: columns ``sentence1``, ``sentence2``, ``condition`` give one similarity per row.
- ``kgc``: columns ``head``, ``relation`` give a frame of ``tails`` (entity ids) and
  ``scores``, best first, ``k`` per row (param ``k``, default 10).
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

MODEL_ARTIFACT = "model"
CSTS_COLUMNS = ("sentence1", "sentence2", "condition")
KGC_COLUMNS = ("head", "relation")
DEFAULT_BATCH_SIZE = 64
DEFAULT_TOP_K = 10


class HyperClPyfunc(PythonModel):
    """Score C-STS rows or rank KGC tails with the model folder in artifact ``model``.

    ``mlflow.pyfunc.load_model(uri, model_config={"device": "cuda"})`` loads it on a GPU.
    The default device is the CPU.
    """

    def load_context(self, context: PythonModelContext) -> None:
        import hypercl

        device = (context.model_config or {}).get("device", "cpu")
        self.model = hypercl.load(context.artifacts[MODEL_ARTIFACT], device=device)
        self.task = self.model.config.task

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> list[float] | pd.DataFrame:
        """Return one similarity per row (``csts``) or a frame of top-k tails (``kgc``)."""
        params = params or {}
        frame = pd.DataFrame(model_input)
        if self.task == "csts":
            _require_columns(frame, CSTS_COLUMNS, self.task)
            return self.model.similarity(
                _strings(frame, "sentence1"),
                _strings(frame, "sentence2"),
                _strings(frame, "condition"),
                batch_size=int(params.get("batch_size", DEFAULT_BATCH_SIZE)),
            )

        _require_columns(frame, KGC_COLUMNS, self.task)
        ranked = self.model.predict_tails(
            _strings(frame, "head"),
            _strings(frame, "relation"),
            k=int(params.get("k", DEFAULT_TOP_K)),
        )
        return pd.DataFrame(
            {
                "tails": [[entity for entity, _ in row] for row in ranked],
                "scores": [[float(score) for _, score in row] for row in ranked],
            }
        )


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], task: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(
            f"model input is missing column(s) {missing}: a {task} model expects the columns "
            f"{list(columns)}, got {list(frame.columns)}"
        )


def _strings(frame: pd.DataFrame, column: str) -> list[str]:
    values = frame[column]
    if values.isna().any():
        rows = [int(index) for index in values.index[values.isna()][:5]]
        raise ValueError(f"column {column!r} has missing values in rows {rows}; pass text")
    return [str(value) for value in values]


# Executed as a model from code, this file has a generated module name. A plain
# `import tracking.pyfunc_model` leaves MLflow's global model untouched.
if __name__ != "tracking.pyfunc_model":
    mlflow.models.set_model(HyperClPyfunc())
