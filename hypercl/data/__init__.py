"""Data sets of the project: the C-STS splits and the official archive they come in."""

from hypercl.data.archive import (
    ARCHIVE_NAME,
    CSV_NAMES,
    PASSWORD_ENV,
    decrypt_archive,
    extract_csts_archive,
    prepare_csts,
    read_password,
    resolve_csts_dir,
)
from hypercl.data.csts import (
    HIDDEN_LABEL,
    LABEL_RANGE,
    SPLITS,
    CstsExample,
    PairingReport,
    Quadruplet,
    csts_stats,
    load_csts,
    pair_quadruplets,
    read_csts_split,
    scaled_label,
)

__all__ = [
    "ARCHIVE_NAME",
    "CSV_NAMES",
    "HIDDEN_LABEL",
    "LABEL_RANGE",
    "PASSWORD_ENV",
    "SPLITS",
    "CstsExample",
    "PairingReport",
    "Quadruplet",
    "csts_stats",
    "decrypt_archive",
    "extract_csts_archive",
    "load_csts",
    "pair_quadruplets",
    "prepare_csts",
    "read_csts_split",
    "read_password",
    "resolve_csts_dir",
    "scaled_label",
]
