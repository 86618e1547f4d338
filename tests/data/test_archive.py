"""Tests of hypercl.data.archive on synthetic archives that the openssl command line encrypts."""

from __future__ import annotations

import base64
import io
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from hypercl.cache import cache_dir
from hypercl.data.archive import (
    CSV_NAMES,
    MARKER_NAME,
    decrypt_archive,
    extract_csts_archive,
    prepare_csts,
    read_password,
    resolve_csts_dir,
    sha256_file,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "synthetic-pass phrase"
CONTENTS = {
    name: f"sentence1,sentence2,condition,label\na {index},b {index},c,{index + 1}\n".encode()
    for index, name in enumerate(CSV_NAMES)
}

requires_openssl = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="the openssl command line is not installed"
)


def make_tar(
    members: dict[str, bytes], links: dict[str, tuple[bytes, str]] | None = None
) -> bytes:
    """Build an uncompressed tar in memory from regular files and (type, target) link members."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for name, (kind, target) in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = target
            tar.addfile(info)
    return buffer.getvalue()


def encrypt(plaintext: bytes, folder: Path, password: str = PASSWORD) -> Path:
    """Encrypt ``plaintext`` as the C-STS authors do and return the path of the archive."""
    plain_path = folder / "plain.tar"
    password_path = folder / "encrypt_password.txt"
    archive = folder / "csts.tar.enc"
    plain_path.write_bytes(plaintext)
    password_path.write_text(password)
    subprocess.run(
        ["openssl", "enc", "-aes-256-cbc", "-a", "-salt", "-pbkdf2"]
        + ["-in", str(plain_path), "-out", str(archive), "-pass", f"file:{password_path}"],
        check=True,
    )
    return archive


@requires_openssl
def test_decrypt_archive_round_trip(tmp_path):
    plaintext = make_tar(CONTENTS)
    archive = encrypt(plaintext, tmp_path)

    assert b"\n" in archive.read_bytes().strip()  # openssl -a wraps the base64 text
    assert decrypt_archive(archive, PASSWORD) == plaintext


@requires_openssl
def test_extract_csts_archive_writes_three_files(tmp_path):
    archive = encrypt(make_tar(CONTENTS), tmp_path)

    paths = extract_csts_archive(archive, PASSWORD, tmp_path / "out")

    assert sorted(paths) == sorted(CSV_NAMES)
    for name in CSV_NAMES:
        assert paths[name] == tmp_path / "out" / name
        assert paths[name].read_bytes() == CONTENTS[name]
    assert sorted(os.listdir(tmp_path / "out")) == sorted(CSV_NAMES)


@requires_openssl
def test_extract_csts_archive_accepts_leading_folder(tmp_path):
    members = {f"csts/{name}": content for name, content in CONTENTS.items()}
    archive = encrypt(make_tar(members), tmp_path)

    paths = extract_csts_archive(archive, PASSWORD, tmp_path / "out")

    assert paths["csts_train.csv"].read_bytes() == CONTENTS["csts_train.csv"]


@requires_openssl
def test_extract_csts_archive_wrong_password(tmp_path):
    archive = encrypt(make_tar(CONTENTS), tmp_path)
    output = tmp_path / "out"

    with pytest.raises(ValueError, match="could not decrypt .*wrong password or corrupt") as info:
        extract_csts_archive(archive, "not the password", output)

    assert PASSWORD not in str(info.value)
    assert "not the password" not in str(info.value)
    assert not output.exists() or os.listdir(output) == []


def test_decrypt_archive_rejects_invalid_base64(tmp_path):
    archive = tmp_path / "csts.tar.enc"
    archive.write_text("U2FsdGVkX1 this is not base64 !!\n")

    with pytest.raises(ValueError, match="could not decrypt .*not valid base64"):
        decrypt_archive(archive, PASSWORD)


def test_decrypt_archive_rejects_missing_salt_header(tmp_path):
    archive = tmp_path / "csts.tar.enc"
    archive.write_bytes(base64.b64encode(b"NotSalt_" + bytes(40)))

    with pytest.raises(ValueError, match="could not decrypt .*Salted__"):
        decrypt_archive(archive, PASSWORD)


@requires_openssl
def test_decrypt_archive_rejects_truncated_archive(tmp_path):
    archive = encrypt(make_tar(CONTENTS), tmp_path)
    # 100 base64 characters decode to 75 bytes: a 16-byte header and 59 ciphertext bytes.
    archive.write_text("".join(archive.read_text().split())[:100])

    with pytest.raises(ValueError, match="could not decrypt .*not a multiple of 16 bytes"):
        decrypt_archive(archive, PASSWORD)


@requires_openssl
def test_extract_csts_archive_rejects_non_tar(tmp_path):
    archive = encrypt(b"plain text, not a tar file\n" * 40, tmp_path)
    output = tmp_path / "out"

    with pytest.raises(ValueError, match="could not decrypt .*not a valid tar file"):
        extract_csts_archive(archive, PASSWORD, output)
    assert not output.exists() or os.listdir(output) == []


def test_decrypt_archive_missing_file(tmp_path):
    with pytest.raises(ValueError, match="archive not found: .*missing.enc"):
        decrypt_archive(tmp_path / "missing.enc", PASSWORD)


UNSAFE_ARCHIVES = {
    "absolute path": ({**CONTENTS, "/etc/csts_train.csv": b"x"}, None, "absolute path or '..'"),
    "parent folder": ({**CONTENTS, "../x": b"x"}, None, "absolute path or '..'"),
    "symlink": (CONTENTS, {"link": (tarfile.SYMTYPE, "/etc/passwd")}, "not a regular file"),
    "hardlink": (CONTENTS, {"hard": (tarfile.LNKTYPE, "csts_train.csv")}, "not a regular file"),
    "unexpected name": ({**CONTENTS, "notes.txt": b"x"}, None, "unexpected member 'notes.txt'"),
    "missing member": (
        {name: CONTENTS[name] for name in CSV_NAMES[:2]},
        None,
        "lacks csts_test.csv",
    ),
    "nested folder": (
        {f"a/b/{name}": content for name, content in CONTENTS.items()},
        None,
        "unexpected member 'a/b/csts_train.csv'",
    ),
}


@requires_openssl
@pytest.mark.parametrize("case", sorted(UNSAFE_ARCHIVES))
def test_extract_csts_archive_rejects_unsafe_members(tmp_path, case):
    members, links, message = UNSAFE_ARCHIVES[case]
    archive = encrypt(make_tar(members, links), tmp_path)
    output = tmp_path / "out"

    with pytest.raises(ValueError, match=re.escape(message)):
        extract_csts_archive(archive, PASSWORD, output)
    assert not output.exists() or os.listdir(output) == []


@requires_openssl
def test_extract_csts_archive_rejects_duplicate_member(tmp_path):
    plaintext = make_tar(CONTENTS)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in [*CONTENTS.items(), ("csts_train.csv", b"other")]:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    assert buffer.getvalue() != plaintext
    archive = encrypt(buffer.getvalue(), tmp_path)

    with pytest.raises(ValueError, match="'csts_train.csv' appears twice"):
        extract_csts_archive(archive, PASSWORD, tmp_path / "out")


def test_read_password_strips_one_newline(tmp_path):
    path = tmp_path / "password.txt"
    path.write_text("secret value\n\n")

    assert read_password(path) == "secret value\n"


def test_read_password_file_without_newline(tmp_path):
    path = tmp_path / "password.txt"
    path.write_text("secret value")

    assert read_password(path) == "secret value"


def test_read_password_from_environment(monkeypatch):
    monkeypatch.setenv("CSTS_PASSWORD", "from env")

    assert read_password(None) == "from env"


def test_read_password_missing_names_both_options(monkeypatch):
    monkeypatch.delenv("CSTS_PASSWORD", raising=False)

    with pytest.raises(ValueError, match="--password-file.*CSTS_PASSWORD"):
        read_password(None)


def test_read_password_missing_file(tmp_path):
    with pytest.raises(ValueError, match="password file not found: .*nope.txt"):
        read_password(tmp_path / "nope.txt")


def test_read_password_empty_file(tmp_path):
    path = tmp_path / "password.txt"
    path.write_text("\n")

    with pytest.raises(ValueError, match="is empty"):
        read_password(path)


@requires_openssl
def test_prepare_csts_skips_matching_extraction(tmp_path, caplog):
    archive = encrypt(make_tar(CONTENTS), tmp_path)
    password_file = tmp_path / "encrypt_password.txt"
    output = tmp_path / "out"

    assert prepare_csts(archive, password_file, output) == output
    marker = (output / MARKER_NAME).read_text()
    assert f"{sha256_file(archive)}  csts.tar.enc" in marker
    assert f"{sha256_file(output / 'csts_test.csv')}  csts_test.csv" in marker
    modified = {name: (output / name).stat().st_mtime_ns for name in CSV_NAMES}

    # No password source is needed when the extraction is reused.
    with caplog.at_level(logging.INFO, logger="hypercl.data.archive"):
        assert prepare_csts(archive, tmp_path / "absent.txt", output) == output
    assert "so decryption is skipped" in caplog.text
    assert {name: (output / name).stat().st_mtime_ns for name in CSV_NAMES} == modified


@requires_openssl
def test_prepare_csts_redoes_changed_file(tmp_path):
    archive = encrypt(make_tar(CONTENTS), tmp_path)
    password_file = tmp_path / "encrypt_password.txt"
    output = tmp_path / "out"
    prepare_csts(archive, password_file, output)

    (output / "csts_train.csv").write_bytes(b"edited")
    prepare_csts(archive, password_file, output)

    assert (output / "csts_train.csv").read_bytes() == CONTENTS["csts_train.csv"]
    assert sorted(os.listdir(output)) == sorted([*CSV_NAMES, MARKER_NAME])


@requires_openssl
def test_prepare_csts_defaults_to_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPERCL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CSTS_PASSWORD", PASSWORD)
    archive = encrypt(make_tar(CONTENTS), tmp_path)

    output = prepare_csts(archive)

    assert output == tmp_path / "cache" / "csts"
    assert (output / "csts_validation.csv").read_bytes() == CONTENTS["csts_validation.csv"]


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPERCL_CACHE", str(tmp_path / "a" / "b"))

    assert cache_dir() == tmp_path / "a" / "b"
    assert (tmp_path / "a" / "b").is_dir()


def test_cache_dir_default_under_home(tmp_path, monkeypatch):
    monkeypatch.delenv("HYPERCL_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))

    assert cache_dir() == tmp_path / ".cache" / "hypercl"


def test_resolve_csts_dir_uses_csv_folder(tmp_path):
    for name, content in CONTENTS.items():
        (tmp_path / name).write_bytes(content)

    assert resolve_csts_dir(tmp_path) == tmp_path


@requires_openssl
def test_resolve_csts_dir_decrypts_with_password_txt(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPERCL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CSTS_PASSWORD", raising=False)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    encrypt(make_tar(CONTENTS), data_dir)
    (data_dir / "password.txt").write_text(PASSWORD)

    folder = resolve_csts_dir(data_dir)

    assert folder == tmp_path / "cache" / "csts"
    assert (folder / "csts_train.csv").read_bytes() == CONTENTS["csts_train.csv"]


def test_resolve_csts_dir_rejects_empty_folder(tmp_path):
    with pytest.raises(ValueError, match=f"{tmp_path} contains neither .*csts.tar.enc"):
        resolve_csts_dir(tmp_path)


def test_resolve_csts_dir_rejects_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="C-STS data folder not found"):
        resolve_csts_dir(tmp_path / "missing")


@requires_openssl
def test_cli_prepare_csts_prints_digests(tmp_path):
    archive = encrypt(make_tar(CONTENTS), tmp_path)
    output = tmp_path / "out"

    result = subprocess.run(
        [sys.executable, "-m", "hypercl.data", "prepare-csts", "--archive", str(archive)]
        + ["--password-file", str(tmp_path / "encrypt_password.txt")]
        + ["--output-dir", str(output)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == str(output)
    assert lines[1:] == [f"{sha256_file(output / name)}  {name}" for name in CSV_NAMES]


@requires_openssl
def test_cli_prepare_csts_wrong_password(tmp_path):
    archive = encrypt(make_tar(CONTENTS), tmp_path)
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("wrong")

    result = subprocess.run(
        [sys.executable, "-m", "hypercl.data", "prepare-csts", "--archive", str(archive)]
        + ["--password-file", str(wrong), "--output-dir", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr.startswith("error: could not decrypt")
    assert "Traceback" not in result.stderr
