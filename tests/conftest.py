"""Session-wide settings: no telemetry, no hub downloads, and a private data and token cache."""

import os
import tempfile

# Set at import, before any test module imports Ray, MLflow or transformers.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tests never read or fill the user's ~/.cache/hypercl.
os.environ["HYPERCL_CACHE"] = tempfile.mkdtemp(prefix="hypercl-test-cache-")
