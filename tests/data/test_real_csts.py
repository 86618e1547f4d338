"""Checks of the real C-STS archive: file digests and pairing counts after decryption.

The archive and its password live in a shared data folder beside the repository checkout
(``<checkout>/../shared/data``, or ``$HYPERCL_SHARED_DATA``). The tests skip only when that
folder has no ``csts`` subfolder. They decrypt into ``tmp_path`` and assert counts only, so no
text of the data set reaches the output.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hypercl.data.archive import CSV_NAMES, prepare_csts, sha256_file
from hypercl.data.csts import csts_stats, load_csts

SHARED_DATA = Path(
    os.environ.get("HYPERCL_SHARED_DATA")
    or Path(__file__).resolve().parents[2].parent / "shared" / "data"
)
CSTS_DIR = SHARED_DATA / "csts"

# SHA-256 of the decrypted files, as published with the archive.
EXPECTED_SHA256 = {
    "csts_train.csv": "830000846916221ace560b371727d8b094c05a5bee1588d0e53e6fa66b9841ae",
    "csts_validation.csv": "47de8d556f516cafb472d00d0e0ee571f85d6d7b37f002ae309a46ab529e04c3",
    "csts_test.csv": "effd8e3cf042b615bf462a2db087574560b2d43f3bdac0381956ac76fc566e83",
}

pytestmark = pytest.mark.skipif(
    not CSTS_DIR.is_dir(), reason=f"real C-STS data not found in {CSTS_DIR}"
)


@pytest.fixture(scope="module")
def decrypted_dir(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("csts")
    return prepare_csts(CSTS_DIR / "csts.tar.enc", CSTS_DIR / "password.txt", output)


def test_real_csts_file_digests(decrypted_dir):
    for name in CSV_NAMES:
        assert sha256_file(decrypted_dir / name) == EXPECTED_SHA256[name], name


def test_real_csts_train_counts(decrypted_dir):
    stats = csts_stats(decrypted_dir)["train"]

    assert stats["rows"] == 11_342
    assert stats["quadruplets"] == 5_671
    assert stats["tied_pairs"] == 972
    assert stats["unpaired_rows"] == 0
    assert sum(stats["label_histogram"].values()) == 11_342
    assert set(stats["label_histogram"]) == {"1", "2", "3", "4", "5"}


def test_real_csts_validation_counts(decrypted_dir):
    stats = csts_stats(decrypted_dir)["validation"]

    assert stats["rows"] == 2_834
    assert stats["quadruplets"] == 1_417
    assert stats["tied_pairs"] == 271
    assert stats["unpaired_rows"] == 0


def test_real_csts_test_split_hidden_labels(decrypted_dir):
    stats = csts_stats(decrypted_dir)["test"]

    assert stats["rows"] == 4_732
    assert stats["quadruplets"] == 2_366
    assert stats["label_histogram"] == {"-1": 4_732}


def test_real_csts_consecutive_rows_pair(decrypted_dir):
    train = load_csts(decrypted_dir, splits=("train",))["train"]

    same_pair = [
        (train[index].sentence1, train[index].sentence2)
        == (train[index + 1].sentence1, train[index + 1].sentence2)
        for index in range(0, len(train), 2)
    ]
    assert all(same_pair)
    assert [row.line for row in train[:3]] == [2, 3, 4]
