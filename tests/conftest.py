import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Qt must never try to open a display in tests; set before any Qt import.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True, scope="session")
def _no_user_models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point the per-user data folder at an empty one, so models the developer trained do not take part."""
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("xdg-data")
        mp.setenv("XDG_DATA_HOME", str(path))
        yield path


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One torch thread for the test: small models run faster and reproducibly without thread overhead."""
    import torch  # deferred: only the tests that ask for it pay for torch at collection

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
