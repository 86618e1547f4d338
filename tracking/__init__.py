"""MLflow side of hypercl-tune: runs per study and per trial, model registry, export and plots.

- ``tracking.store``: tracking URIs, the local SQLite default and experiments.
- ``tracking.runs``: the parent run of a study and one nested run per Ray trial.
- ``tracking.registry``: logging the best model as a pyfunc model and the ``champion`` alias.
- ``tracking.pyfunc_model``: the ``mlflow.pyfunc.PythonModel`` that serves a model folder.
- ``tracking.export``: ``python -m tracking.export``, a self-contained folder from a version.
- ``tracking.model_card``: the README.md written next to an exported model.
- ``tracking.plots``: Optuna plots and learning curves logged to the study run.

The core library ``hypercl`` never imports this package, so a trained or exported model folder
loads without MLflow installed.
"""
