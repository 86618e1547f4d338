"""C-STS splits: reading and validating the CSV files, pairing rows into quadruplets, statistics.

A C-STS file has the columns ``sentence1,sentence2,condition,label``. Labels are integers from
1 to 5, and the test split hides them as -1. Each sentence pair appears twice, under two
conditions. :func:`pair_quadruplets` joins those two rows into one quadruplet whose higher
label is the condition c_high and the other c_low, as Hyper-CL's contrastive objective needs.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from hypercl.data.archive import resolve_csts_dir

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
LABEL_RANGE = (1, 5)
HIDDEN_LABEL = -1
TEXT_COLUMNS = ("sentence1", "sentence2", "condition")
COLUMNS = (*TEXT_COLUMNS, "label")

_INTEGER = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class CstsExample:
    """One row of a C-STS split."""

    sentence1: str
    sentence2: str
    condition: str
    label: int
    """Similarity from 1 to 5, or ``HIDDEN_LABEL`` (-1) in the test split."""
    line: int
    """1-based physical line of the row in its CSV file (the header is line 1)."""


@dataclass(frozen=True)
class Quadruplet:
    """Two rows with the same sentence pair under two conditions, as indices into the split."""

    high: int
    """Index of the row with the higher label (condition c_high)."""
    low: int
    """Index of the other row (condition c_low)."""
    tied: bool
    """Whether both labels are equal. Then ``high`` is the row that comes first in the file."""


@dataclass
class PairingReport:
    """Counts from :func:`pair_quadruplets`."""

    rows: int
    pairs: int
    """Number of distinct (sentence1, sentence2) groups."""
    quadruplets: int
    tied_pairs: int
    unpaired_rows: int
    """Rows in groups whose size is not 2, which form no quadruplet."""
    group_sizes: dict[int, int] = field(default_factory=dict)
    """Group size -> number of groups of that size, for sizes other than 2."""


def read_csts_split(path: str | Path, split: str) -> list[CstsExample]:
    """Read and validate one C-STS CSV file.

    Raises ValueError naming the file, the 1-based line, the column and the value for a missing
    column, an empty text, a non-integer label or a label outside 1..5 (-1 is allowed in the
    test split only).
    """
    _check_split(split)
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"C-STS {split} file not found: {path}.")

    table, record_lines = _read_table(path)
    rows = table.select(list(COLUMNS)).to_pylist()

    examples = []
    for row, line in zip(rows, record_lines[1:], strict=True):
        for column in TEXT_COLUMNS:
            _check_text(row[column], path, line, column)
        label = _parse_label(row["label"], path, line, split)
        examples.append(CstsExample(**{c: row[c] for c in TEXT_COLUMNS}, label=label, line=line))
    return examples


def pair_quadruplets(examples: Sequence[CstsExample]) -> tuple[list[Quadruplet], PairingReport]:
    """Group rows by (sentence1, sentence2) and turn each group of exactly two into a quadruplet.

    Quadruplets follow the order of each group's first row. Groups of any other size are counted
    in the report and logged as a warning, and their rows form no quadruplet.
    """
    groups: dict[tuple[str, str], list[int]] = {}
    for index, example in enumerate(examples):
        groups.setdefault((example.sentence1, example.sentence2), []).append(index)

    quadruplets = []
    odd_sizes: Counter[int] = Counter()
    for indices in groups.values():
        if len(indices) != 2:
            odd_sizes[len(indices)] += 1
            continue
        first, second = indices
        if examples[second].label > examples[first].label:
            quadruplets.append(Quadruplet(high=second, low=first, tied=False))
        else:
            tied = examples[second].label == examples[first].label
            quadruplets.append(Quadruplet(high=first, low=second, tied=tied))

    report = PairingReport(
        rows=len(examples),
        pairs=len(groups),
        quadruplets=len(quadruplets),
        tied_pairs=sum(quadruplet.tied for quadruplet in quadruplets),
        unpaired_rows=sum(size * count for size, count in odd_sizes.items()),
        group_sizes=dict(sorted(odd_sizes.items())),
    )
    if odd_sizes:
        logger.warning(
            "%d of %d rows form no quadruplet: their (sentence1, sentence2) groups do not have "
            "exactly 2 rows (group size -> number of groups: %s)",
            report.unpaired_rows,
            report.rows,
            report.group_sizes,
        )
    return quadruplets, report


def load_csts(
    data_dir: str | Path,
    splits: Sequence[str] = SPLITS,
    password_file: str | Path | None = None,
) -> dict[str, list[CstsExample]]:
    """Read the requested splits from ``csts_{split}.csv`` files, decrypting the archive if needed.

    ``data_dir`` contains either the CSV files or ``csts.tar.enc`` (see ``resolve_csts_dir``).
    """
    for split in splits:
        _check_split(split)

    folder = resolve_csts_dir(data_dir, password_file=password_file)
    return {split: read_csts_split(folder / f"csts_{split}.csv", split) for split in splits}


def scaled_label(label: int) -> float:
    """Map a label from 1..5 to [0, 1] as (label - 1) / 4, the target of the cosine regression."""
    low, high = LABEL_RANGE
    if not low <= label <= high:
        raise ValueError(
            f"label={label} cannot be scaled: it must be an integer from {low} to {high}. "
            "Hidden test labels (-1) have no target, so do not train or score on them."
        )
    return (label - low) / (high - low)


def csts_stats(data_dir: str | Path, password_file: str | Path | None = None) -> dict[str, Any]:
    """Count rows, sentence pairs, quadruplets, tied pairs, unpaired rows and labels per split."""
    stats: dict[str, Any] = {}
    for split, examples in load_csts(data_dir, password_file=password_file).items():
        _, report = pair_quadruplets(examples)

        histogram = Counter(example.label for example in examples)
        if split != "test":
            histogram.update(dict.fromkeys(range(LABEL_RANGE[0], LABEL_RANGE[1] + 1), 0))

        stats[split] = {
            "rows": report.rows,
            "sentence_pairs": report.pairs,
            "quadruplets": report.quadruplets,
            "tied_pairs": report.tied_pairs,
            "unpaired_rows": report.unpaired_rows,
            "group_sizes": {str(size): count for size, count in report.group_sizes.items()},
            "label_histogram": {str(label): histogram[label] for label in sorted(histogram)},
        }
    return stats


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not a C-STS split. Use one of {SPLITS}.")


def _read_table(path: Path) -> tuple[pa.Table, list[int]]:
    """Parse ``path`` with every expected column as a string and return the table and line starts.

    The second value lists the 1-based physical line at which each record starts, the header
    included, so that rows with quoted newlines still get their true line numbers.
    """
    invalid_rows: list[pacsv.InvalidRow] = []

    def skip_and_record(row: pacsv.InvalidRow) -> str:
        invalid_rows.append(row)
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(
                newlines_in_values=True, invalid_row_handler=skip_and_record
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(COLUMNS, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as err:
        raise ValueError(
            f"could not parse {path} as CSV: {err}. Check the file's format."
        ) from err

    missing = [column for column in COLUMNS if column not in table.column_names]
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {', '.join(missing)}. The header found is "
            f"{','.join(table.column_names)}. The header must contain {','.join(COLUMNS)}."
        )

    record_lines = _record_start_lines(path)
    if invalid_rows:
        row = invalid_rows[0]
        where = f"line {record_lines[row.number - 1]}" if row.number else "a row"
        raise ValueError(
            f"{path}: {where} has {row.actual_columns} columns, expected "
            f"{row.expected_columns}. Quote fields that contain commas or newlines."
        )
    if len(record_lines) != table.num_rows + 1:
        raise ValueError(
            f"{path}: found {len(record_lines) - 1} records by line but the CSV parser read "
            f"{table.num_rows} rows. Check the file for stray quote characters."
        )
    return table, record_lines


def _record_start_lines(path: Path) -> list[int]:
    """Return the 1-based line where each CSV record starts, skipping empty lines as pyarrow does.

    A line starts a record unless an odd number of quote characters before it left a quoted
    field open. NOTE: a quote in the middle of an unquoted field breaks this count, and the
    caller only detects it when the number of records then differs from pyarrow's.
    """
    starts = []
    inside_quotes = False
    for number, line in enumerate(path.read_bytes().split(b"\n"), start=1):
        if not inside_quotes and line.strip(b"\r"):
            starts.append(number)
        if line.count(b'"') % 2:
            inside_quotes = not inside_quotes
    return starts


def _check_text(value: str, path: Path, line: int, column: str) -> None:
    if not value.strip():
        raise ValueError(
            f"{path}: line {line}: column {column!r} is empty (value {value!r}). "
            "Every row needs a non-empty sentence1, sentence2 and condition."
        )


def _parse_label(value: str, path: Path, line: int, split: str) -> int:
    low, high = LABEL_RANGE
    allowed = f"an integer from {low} to {high}"
    if split == "test":
        allowed += f" or {HIDDEN_LABEL} (hidden)"

    if not _INTEGER.fullmatch(value.strip()):
        raise ValueError(
            f"{path}: line {line}: column 'label' has value {value!r}, which is not an integer. "
            f"Write {allowed}."
        )

    label = int(value)
    if not (low <= label <= high or (split == "test" and label == HIDDEN_LABEL)):
        raise ValueError(
            f"{path}: line {line}: column 'label' has value {value!r}, outside the allowed "
            f"range. The {split} split needs {allowed}."
        )
    return label
