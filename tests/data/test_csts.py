"""Tests of hypercl.data.csts: CSV validation, line numbers, pairing, statistics and the CLI."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hypercl.data.csts import (
    CstsExample,
    Quadruplet,
    csts_stats,
    load_csts,
    pair_quadruplets,
    read_csts_split,
    scaled_label,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
HEADER = "sentence1,sentence2,condition,label\n"


def write_csv(folder: Path, text: str, name: str = "csts_train.csv") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def example(sentence1: str, sentence2: str, label: int, line: int = 0) -> CstsExample:
    return CstsExample(sentence1, sentence2, f"condition {line}", label, line)


def write_split_folder(folder: Path) -> Path:
    """Write a synthetic train (2 pairs, one tied, plus one lone row), validation and test."""
    write_csv(folder, HEADER + "a,b,c1,2\na,b,c2,5\nd,e,c1,3\nd,e,c2,3\nf,g,c1,1\n")
    write_csv(folder, HEADER + "h,i,c1,4\nh,i,c2,1\n", "csts_validation.csv")
    write_csv(folder, HEADER + "j,k,c1,-1\nj,k,c2,-1\n", "csts_test.csv")
    return folder


def test_read_csts_split_parses_rows(tmp_path):
    path = write_csv(tmp_path, HEADER + 'A man sits.,"A man, seated.",the pose,4\nx,y,z,1\n')

    examples = read_csts_split(path, "train")

    assert examples == [
        CstsExample("A man sits.", "A man, seated.", "the pose", 4, 2),
        CstsExample("x", "y", "z", 1, 3),
    ]


def test_read_csts_split_keeps_numeric_text_as_string(tmp_path):
    path = write_csv(tmp_path, HEADER + "1,2.5,007,3\n")

    (row,) = read_csts_split(path, "train")

    assert (row.sentence1, row.sentence2, row.condition) == ("1", "2.5", "007")


def test_read_csts_split_accepts_reordered_columns(tmp_path):
    path = write_csv(tmp_path, "label,condition,sentence2,sentence1,extra\n2,c,s2,s1,9\n")

    assert read_csts_split(path, "validation") == [CstsExample("s1", "s2", "c", 2, 2)]


def test_read_csts_split_quoted_newline_line_numbers(tmp_path):
    text = HEADER + '"first\nsecond\nthird",b,c,3\nd,e,f,2\n\n"g\r\nh",i,j,1\n'
    path = write_csv(tmp_path, text)

    examples = read_csts_split(path, "train")

    assert [row.line for row in examples] == [2, 5, 7]
    assert examples[0].sentence1 == "first\nsecond\nthird"


def test_read_csts_split_error_after_quoted_newline(tmp_path):
    path = write_csv(tmp_path, HEADER + '"two\nlines",b,c,3\n"x ""quoted""",y,z,2.5\n')

    with pytest.raises(ValueError, match=r"line 4: column 'label' has value '2\.5'"):
        read_csts_split(path, "train")


BAD_ROWS = {
    "empty sentence1": (",b,c,3", "train", r"line 2: column 'sentence1' is empty \(value ''\)"),
    "blank condition": (
        "a,b,   ,3",
        "train",
        r"line 2: column 'condition' is empty \(value '   '\)",
    ),
    "fraction label": (
        "a,b,c,2.5",
        "train",
        r"line 2: column 'label' has value '2\.5'.*not an int",
    ),
    "word label": ("a,b,c,abc", "validation", r"line 2: column 'label' has value 'abc'"),
    "empty label": ("a,b,c,", "train", r"line 2: column 'label' has value ''"),
    "label above range": ("a,b,c,6", "train", r"line 2: column 'label' has value '6', outside"),
    "label zero": (
        "a,b,c,0",
        "validation",
        r"line 2: column 'label' has value '0', outside .*5\.$",
    ),
    "hidden label outside test": (
        "a,b,c,-1",
        "train",
        r"line 2: column 'label' has value '-1', out",
    ),
    "test label -2": ("a,b,c,-2", "test", r"line 2: .* value '-2', outside .*or -1 \(hidden\)"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_read_csts_split_rejects_bad_row(tmp_path, case):
    row, split, message = BAD_ROWS[case]
    path = write_csv(tmp_path, HEADER + "ok,ok,ok,1\n" + row + "\n")
    message = message.replace("line 2", "line 3")

    with pytest.raises(ValueError, match=re.escape(str(path)) + ": " + message):
        read_csts_split(path, split)


def test_read_csts_split_test_allows_hidden_label(tmp_path):
    path = write_csv(tmp_path, HEADER + "a,b,c,-1\na,b,d,3\n", "csts_test.csv")

    assert [row.label for row in read_csts_split(path, "test")] == [-1, 3]


def test_read_csts_split_missing_column(tmp_path):
    path = write_csv(tmp_path, "sentence1,sentence2,label\na,b,3\n")

    with pytest.raises(
        ValueError,
        match="missing column.*condition. The header found is sentence1,sentence2,label",
    ):
        read_csts_split(path, "train")


def test_read_csts_split_wrong_column_count(tmp_path):
    path = write_csv(tmp_path, HEADER + "a,b,c,1\n\n" + '"x\ny",b,3\n')

    with pytest.raises(ValueError, match="line 4 has 3 columns, expected 4"):
        read_csts_split(path, "train")


def test_read_csts_split_rejects_unknown_split(tmp_path):
    path = write_csv(tmp_path, HEADER + "a,b,c,1\n")

    with pytest.raises(ValueError, match=r"split='dev' is not a C-STS split.*'validation'"):
        read_csts_split(path, "dev")


def test_read_csts_split_missing_file(tmp_path):
    with pytest.raises(ValueError, match="C-STS train file not found: .*absent.csv"):
        read_csts_split(tmp_path / "absent.csv", "train")


def test_pair_quadruplets_orders_by_label():
    examples = [
        example("s1", "s2", 2, 2),
        example("s1", "s2", 5, 3),
        example("t1", "t2", 4, 4),
        example("t1", "t2", 1, 5),
    ]

    quadruplets, report = pair_quadruplets(examples)

    assert quadruplets == [Quadruplet(high=1, low=0, tied=False), Quadruplet(2, 3, False)]
    assert report.quadruplets == 2
    assert report.tied_pairs == 0


def test_pair_quadruplets_tie_keeps_file_order():
    examples = [example("s1", "s2", 3, 2), example("x", "y", 1, 3), example("s1", "s2", 3, 4)]

    quadruplets, report = pair_quadruplets(examples)

    assert quadruplets == [Quadruplet(high=0, low=2, tied=True)]
    assert report.tied_pairs == 1
    assert report.group_sizes == {1: 1}


def test_pair_quadruplets_counts_odd_groups(caplog):
    examples = [
        example("lone", "row", 2),
        example("a", "b", 1),
        example("a", "b", 4),
        example("three", "rows", 1),
        example("three", "rows", 2),
        example("three", "rows", 3),
        example("b", "a", 5),
        example("b", "a", 5),
    ]

    with caplog.at_level(logging.WARNING, logger="hypercl.data.csts"):
        quadruplets, report = pair_quadruplets(examples)

    assert quadruplets == [Quadruplet(2, 1, False), Quadruplet(6, 7, True)]
    assert report.rows == 8
    assert report.pairs == 4
    assert report.quadruplets == 2
    assert report.tied_pairs == 1
    assert report.unpaired_rows == 4
    assert report.group_sizes == {1: 1, 3: 1}
    assert "4 of 8 rows form no quadruplet" in caplog.text


def test_pair_quadruplets_no_warning_when_all_paired(caplog):
    with caplog.at_level(logging.WARNING, logger="hypercl.data.csts"):
        _, report = pair_quadruplets([example("a", "b", 1), example("a", "b", 2)])

    assert report.unpaired_rows == 0
    assert report.group_sizes == {}
    assert caplog.text == ""


def test_scaled_label_maps_range_to_unit_interval():
    assert [scaled_label(label) for label in range(1, 6)] == [0.0, 0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize("label", [-1, 0, 6])
def test_scaled_label_rejects_outside_range(label):
    with pytest.raises(ValueError, match=f"label={label} cannot be scaled"):
        scaled_label(label)


def test_load_csts_reads_requested_splits(tmp_path):
    write_split_folder(tmp_path)

    splits = load_csts(tmp_path, splits=("validation", "test"))

    assert list(splits) == ["validation", "test"]
    assert [row.label for row in splits["validation"]] == [4, 1]
    assert [row.label for row in splits["test"]] == [-1, -1]


def test_load_csts_rejects_unknown_split(tmp_path):
    write_split_folder(tmp_path)

    with pytest.raises(ValueError, match="split='dev' is not a C-STS split"):
        load_csts(tmp_path, splits=("train", "dev"))


def test_csts_stats_counts(tmp_path):
    stats = csts_stats(write_split_folder(tmp_path))

    assert stats["train"] == {
        "rows": 5,
        "sentence_pairs": 3,
        "quadruplets": 2,
        "tied_pairs": 1,
        "unpaired_rows": 1,
        "group_sizes": {"1": 1},
        "label_histogram": {"1": 1, "2": 1, "3": 2, "4": 0, "5": 1},
    }
    assert stats["validation"]["label_histogram"] == {"1": 1, "2": 0, "3": 0, "4": 1, "5": 0}
    assert stats["test"]["label_histogram"] == {"-1": 2}
    assert stats["test"]["tied_pairs"] == 1


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hypercl.data", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )


def test_cli_stats_prints_json(tmp_path):
    write_split_folder(tmp_path)

    result = run_cli("stats", "--task", "csts", "--data-dir", str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == csts_stats(tmp_path)
    assert result.stdout.startswith('{\n  "train": {\n    "rows": 5,')
    assert "1 of 5 rows form no quadruplet" in result.stderr


def test_cli_stats_bad_row_exits_2(tmp_path):
    write_split_folder(tmp_path)
    write_csv(tmp_path, HEADER + "a,b,c,7\n")

    result = run_cli("stats", "--task", "csts", "--data-dir", str(tmp_path))

    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert "line 2: column 'label' has value '7'" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_cli_stats_missing_folder_exits_2(tmp_path):
    result = run_cli("stats", "--task", "csts", "--data-dir", str(tmp_path / "nowhere"))

    assert result.returncode == 2
    assert result.stderr == f"error: C-STS data folder not found: {tmp_path / 'nowhere'}. " + (
        "Pass a folder that contains csts_train.csv, csts_validation.csv, csts_test.csv "
        "or csts.tar.enc.\n"
    )


def test_cli_stats_kgc_rejects_password_file(tmp_path):
    result = run_cli(
        "stats", "--task", "kgc", "--data-dir", str(tmp_path), "--password-file", "p.txt"
    )

    assert result.returncode == 2
    assert "error: --password-file applies to --task csts only" in result.stderr
