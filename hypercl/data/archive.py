"""Decryption and safe extraction of the official C-STS archive ``csts.tar.enc``.

The C-STS authors distribute their CSV files as a tar encrypted with
``openssl enc -aes-256-cbc -a -salt -pbkdf2``. That format is base64 text whose decoded bytes
start with ``Salted__`` and an 8-byte salt. PBKDF2-HMAC-SHA256 (10,000 iterations) turns the
password and salt into a 32-byte AES-256 key and a 16-byte CBC IV, and the plaintext carries
PKCS#7 padding. This module decrypts it with the ``cryptography`` package, checks every tar
member before writing anything, and writes the three CSV files atomically into a cache folder.

The data set's terms forbid sharing its password, so no function here logs it or puts it in an
exception message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
import os
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from hypercl.cache import cache_dir

logger = logging.getLogger(__name__)

ARCHIVE_NAME = "csts.tar.enc"
CSV_NAMES = ("csts_train.csv", "csts_validation.csv", "csts_test.csv")
PASSWORD_ENV = "CSTS_PASSWORD"
PASSWORD_FILE_NAME = "password.txt"
MARKER_NAME = ".sha256"

_SALT_HEADER = b"Salted__"
_SALT_SIZE = 8
_PBKDF2_ITERATIONS = 10_000
_KEY_SIZE = 32
_IV_SIZE = 16
_BLOCK_SIZE = 16


def read_password(password_file: str | Path | None) -> str:
    """Read the archive password from ``password_file``, else from ``$CSTS_PASSWORD``.

    One trailing newline of the file is removed. Raises ValueError when neither source gives
    a non-empty password. The message never contains the password.
    """
    if password_file is not None:
        path = Path(password_file)
        if not path.is_file():
            raise ValueError(
                f"password file not found: {path}. Pass an existing file with --password-file, "
                f"or set the environment variable {PASSWORD_ENV}."
            )
        password = path.read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")
        if not password:
            raise ValueError(
                f"password file {path} is empty. Write the password on its first line."
            )
        return password

    password = os.environ.get(PASSWORD_ENV, "")
    if not password:
        raise ValueError(
            "no password for the C-STS archive: pass a file that contains it with "
            f"--password-file (password_file=...), or set the environment variable {PASSWORD_ENV}."
        )
    return password


def decrypt_archive(archive: str | Path, password: str) -> bytes:
    """Decrypt an ``openssl enc -aes-256-cbc -a -salt -pbkdf2`` file and return the plaintext.

    Raises ValueError naming the archive when it is missing, not in that format, or when the
    password is wrong (the PKCS#7 padding check fails).
    """
    path = Path(archive)
    if not path.is_file():
        raise ValueError(f"archive not found: {path}. Pass the path of {ARCHIVE_NAME}.")

    # Base64 layer: openssl -a wraps lines at 64 characters, so drop all whitespace first.
    try:
        encrypted = base64.b64decode(b"".join(path.read_bytes().split()), validate=True)
    except binascii.Error as err:
        raise _decrypt_error(path, "the file is not valid base64") from err

    body = encrypted[len(_SALT_HEADER) + _SALT_SIZE :]
    if not encrypted.startswith(_SALT_HEADER):
        raise _decrypt_error(
            path, "the decoded bytes do not start with the OpenSSL header 'Salted__'"
        )
    if not body or len(body) % _BLOCK_SIZE:
        raise _decrypt_error(path, f"the ciphertext is not a multiple of {_BLOCK_SIZE} bytes")

    # Key derivation: PBKDF2-HMAC-SHA256 gives key and IV in one 48-byte output.
    salt = encrypted[len(_SALT_HEADER) : len(_SALT_HEADER) + _SALT_SIZE]
    derived = PBKDF2HMAC(
        algorithm=hashes.SHA256(),
        length=_KEY_SIZE + _IV_SIZE,
        salt=salt,
        iterations=_PBKDF2_ITERATIONS,
    ).derive(password.encode("utf-8"))
    key, iv = derived[:_KEY_SIZE], derived[_KEY_SIZE:]

    # AES-256-CBC, then PKCS#7 unpadding, which fails for most wrong passwords.
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(body) + decryptor.finalize()
    unpadder = padding.PKCS7(_BLOCK_SIZE * 8).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as err:
        raise _decrypt_error(path, "the padding is invalid") from err


def extract_csts_archive(
    archive: str | Path, password: str, output_dir: str | Path
) -> dict[str, Path]:
    """Decrypt ``archive`` and write its three C-STS CSV files into ``output_dir``.

    Every member is checked before anything is written. The files are first written as
    temporary files in ``output_dir`` and then renamed with ``os.replace``, so a failure leaves
    no partial output. Returns the written paths keyed by file name.
    """
    members = _read_csts_members(decrypt_archive(archive, password), Path(archive))

    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    temporary: dict[str, Path] = {}
    try:
        for name, content in members.items():
            temporary[name] = _write_temporary(output, name, content)
        for name, temporary_path in temporary.items():
            os.replace(temporary_path, output / name)
    finally:
        for temporary_path in temporary.values():
            temporary_path.unlink(missing_ok=True)

    logger.info("extracted %s into %s", ", ".join(CSV_NAMES), output)
    return {name: output / name for name in CSV_NAMES}


def prepare_csts(
    archive: str | Path,
    password_file: str | Path | None = None,
    output_dir: str | Path | None = None,
) -> Path:
    """Extract the C-STS CSV files from ``archive`` unless an earlier extraction is still valid.

    The default ``output_dir`` is ``cache_dir() / "csts"``. A marker file ``.sha256`` stores the
    SHA-256 of the archive and of each CSV file. The work is skipped when the marker matches
    the archive and the files on disk. Returns the output folder.
    """
    archive = Path(archive)
    output = Path(output_dir) if output_dir is not None else cache_dir() / "csts"
    if not archive.is_file():
        raise ValueError(f"archive not found: {archive}. Pass the path of {ARCHIVE_NAME}.")

    archive_digest = sha256_file(archive)
    if _marker_matches(output, archive_digest):
        logger.info("C-STS files in %s match %s, so decryption is skipped", output, archive)
        return output

    password = read_password(password_file)
    paths = extract_csts_archive(archive, password, output)
    _write_marker(output, archive_digest, paths)
    return output


def resolve_csts_dir(data_dir: str | Path, password_file: str | Path | None = None) -> Path:
    """Return a folder with the three C-STS CSV files for ``data_dir``.

    ``data_dir`` either contains the CSV files, which are used in place, or ``csts.tar.enc``,
    which is extracted into the cache. The password then comes from ``password_file``, else
    from ``data_dir/password.txt`` if it exists, else from ``$CSTS_PASSWORD``.
    """
    folder = Path(data_dir)
    if not folder.is_dir():
        raise ValueError(
            f"C-STS data folder not found: {folder}. Pass a folder that contains "
            f"{', '.join(CSV_NAMES)} or {ARCHIVE_NAME}."
        )

    if all((folder / name).is_file() for name in CSV_NAMES):
        return folder

    archive = folder / ARCHIVE_NAME
    if archive.is_file():
        if password_file is None and (folder / PASSWORD_FILE_NAME).is_file():
            password_file = folder / PASSWORD_FILE_NAME
        return prepare_csts(archive, password_file=password_file)

    raise ValueError(
        f"C-STS data folder {folder} contains neither {', '.join(CSV_NAMES)} nor "
        f"{ARCHIVE_NAME}. Pass the folder that contains the official archive (and its "
        f"{PASSWORD_FILE_NAME}, or use --password-file or {PASSWORD_ENV}), or a folder with "
        "the decrypted CSV files."
    )


def sha256_file(path: str | Path) -> str:
    """Return the hex SHA-256 digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _decrypt_error(archive: Path, reason: str) -> ValueError:
    return ValueError(
        f"could not decrypt {archive}: wrong password or corrupt archive ({reason}). Check the "
        f"password (--password-file or {PASSWORD_ENV}) and that the file is the official "
        f"{ARCHIVE_NAME}, whose SHA-256 should match the one its authors publish."
    )


def _read_csts_members(plaintext: bytes, archive: Path) -> dict[str, bytes]:
    """Check the tar members and return the content of each CSV file keyed by file name.

    Accepted members are the three CSV files, at the top level or under one common leading
    folder, plus that folder's own entry. Links, devices, absolute paths and ``..`` are rejected.
    """
    contents: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(plaintext), mode="r:") as tar:
            members = tar.getmembers()
            folder = _common_folder(members)
            for member in members:
                name = _check_member(member, folder, archive)
                if name is None:
                    continue
                if name in contents:
                    raise ValueError(f"unsafe archive {archive}: {member.name!r} appears twice.")
                contents[name] = tar.extractfile(member).read()
    except tarfile.TarError as err:
        raise _decrypt_error(archive, "the plaintext is not a valid tar file") from err

    missing = [name for name in CSV_NAMES if name not in contents]
    if missing:
        raise ValueError(
            f"archive {archive} lacks {', '.join(missing)}. It must contain all of "
            f"{', '.join(CSV_NAMES)}. Use the official {ARCHIVE_NAME}."
        )
    return contents


def _common_folder(members: list[tarfile.TarInfo]) -> str | None:
    """Return the one leading folder shared by all members, or None when files are at the top."""
    tops = {PurePosixPath(member.name).parts[0] for member in members if member.name.strip("/")}
    if len(tops) == 1:
        top = next(iter(tops))
        if top not in CSV_NAMES and top not in ("..", "/"):
            return top
    return None


def _check_member(member: tarfile.TarInfo, folder: str | None, archive: Path) -> str | None:
    """Return the CSV file name of a safe member, None for the leading folder's entry, else raise."""
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts:
        raise ValueError(
            f"unsafe archive {archive}: member {member.name!r} has an absolute path or '..'."
        )

    parts = path.parts if folder is None else path.parts[1:]
    if folder is not None and member.isdir() and not parts:
        return None
    if not member.isreg():
        raise ValueError(
            f"unsafe archive {archive}: member {member.name!r} is not a regular file "
            "(links, devices and extra folders are rejected)."
        )
    if len(parts) != 1 or parts[0] not in CSV_NAMES:
        raise ValueError(
            f"unexpected member {member.name!r} in archive {archive}: only "
            f"{', '.join(CSV_NAMES)} are allowed."
        )
    return parts[0]


def _write_temporary(folder: Path, name: str, content: bytes) -> Path:
    handle, temporary_name = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    with os.fdopen(handle, "wb") as stream:
        stream.write(content)
    return Path(temporary_name)


def _marker_matches(output: Path, archive_digest: str) -> bool:
    marker = output / MARKER_NAME
    if not marker.is_file():
        return False

    expected = dict(
        line.split("  ", 1)[::-1] for line in marker.read_text().splitlines() if "  " in line
    )
    if expected.get(ARCHIVE_NAME) != archive_digest:
        return False
    return all(
        (output / name).is_file() and expected.get(name) == sha256_file(output / name)
        for name in CSV_NAMES
    )


def _write_marker(output: Path, archive_digest: str, paths: dict[str, Path]) -> None:
    """Write ``.sha256`` in the ``sha256sum`` layout ("DIGEST  NAME"), the archive first."""
    lines = [f"{archive_digest}  {ARCHIVE_NAME}"]
    lines += [f"{sha256_file(paths[name])}  {name}" for name in CSV_NAMES]
    temporary = _write_temporary(output, MARKER_NAME, ("\n".join(lines) + "\n").encode())
    os.replace(temporary, output / MARKER_NAME)
