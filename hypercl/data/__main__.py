"""Command line for the data sets: decrypt the C-STS archive and print per-split statistics.

    python -m hypercl.data prepare-csts --archive DATA/csts/csts.tar.enc \\
        --password-file DATA/csts/password.txt
    python -m hypercl.data stats --task csts --data-dir DATA/csts

User errors print ``error: MESSAGE`` on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from hypercl.data.archive import CSV_NAMES, prepare_csts, sha256_file
from hypercl.data.csts import csts_stats

TASKS = ("csts", "kgc")


def build_parser() -> argparse.ArgumentParser:
    """Build the parser with the ``prepare-csts`` and ``stats`` subcommands."""
    parser = argparse.ArgumentParser(
        prog="python -m hypercl.data", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)

    prepare = commands.add_parser(
        "prepare-csts", help="decrypt csts.tar.enc into a folder and print the files' SHA-256"
    )
    prepare.add_argument("--archive", type=Path, required=True, help="path of csts.tar.enc")
    prepare.add_argument(
        "--password-file",
        type=Path,
        help="file whose first line is the archive password (default: $CSTS_PASSWORD)",
    )
    prepare.add_argument(
        "--output-dir", type=Path, help="folder for the CSV files (default: <cache>/csts)"
    )

    stats = commands.add_parser("stats", help="print per-split statistics as JSON")
    stats.add_argument("--task", choices=TASKS, required=True, help="data set to describe")
    stats.add_argument(
        "--data-dir",
        type=Path,
        required=True,
        help="folder with the data set (for csts: the CSV files or csts.tar.enc)",
    )
    stats.add_argument(
        "--password-file",
        type=Path,
        help="csts only: archive password file (default: DATA_DIR/password.txt, $CSTS_PASSWORD)",
    )
    return parser


def run_prepare_csts(args: argparse.Namespace) -> None:
    """Extract the archive and print the output folder and each file's SHA-256."""
    output = prepare_csts(args.archive, args.password_file, args.output_dir)
    print(output)
    for name in CSV_NAMES:
        print(f"{sha256_file(output / name)}  {name}")


def run_stats(args: argparse.Namespace) -> None:
    """Print the statistics of the requested task's data set as indented JSON."""
    if args.task == "csts":
        stats = csts_stats(args.data_dir, password_file=args.password_file)
    else:
        if args.password_file is not None:
            raise ValueError("--password-file applies to --task csts only. Drop it for kgc.")
        stats = _kgc_stats(args.data_dir)
    print(json.dumps(stats, indent=2))


def _kgc_stats(data_dir: Path) -> dict[str, Any]:
    # Imported here so that C-STS commands work without the knowledge-graph module.
    try:
        from hypercl.data.kgc import kgc_stats
    except ImportError as err:
        raise ValueError(
            f"statistics for --task kgc need hypercl.data.kgc.kgc_stats, which failed to "
            f"import ({err}). Check that the hypercl package is installed completely, or use --task csts."
        ) from err
    return kgc_stats(data_dir)


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand and return the exit status (2 for user errors)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    commands = {"prepare-csts": run_prepare_csts, "stats": run_stats}
    try:
        commands[args.command](args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
