import pytest

from tests.synthetic import write_synthetic_csts
from tests.tiny_model import write_tiny_bert


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return write_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def csts_dir(tmp_path_factory):
    return write_synthetic_csts(tmp_path_factory.mktemp("csts"))
