import os

import pytest
import torch

os.environ.setdefault("AQ4SVIT_QUIET", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

def _threads() -> int:
    """Torch threads for this test process: with pytest-xdist, workers x threads <= cores (two processes that
    each use every core slow each other down up to 10x); the variable also reaches the CLI and notebook
    kernels the tests start."""
    cores = min(2, os.cpu_count() or 1)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return int(os.environ.get("AQ4SVIT_THREADS", max(1, cores // workers)))


THREADS = _threads()
os.environ["OMP_NUM_THREADS"] = str(THREADS)
torch.set_num_threads(THREADS)


@pytest.fixture(scope="session")
def small_splits():
    """Real Fashion-MNIST splits with a small search split (fast tests)."""
    from aq4svit_lib.data import SplitSpec, load_splits

    return load_splits("fashion_mnist", SplitSpec(search_size=600, minibatch_size=64, seed=0, verify_size=300))


def random_model(name: str, seed: int = 0, **overrides):
    """A model with random weights and non-trivial BatchNorm statistics (spikes actually fire)."""
    from aq4svit_lib.models import create_model

    torch.manual_seed(seed)
    model = create_model(name, **overrides)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if key.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) * 0.3 + 0.05)
            elif key.endswith("running_mean"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.05)
            elif t.dtype.is_floating_point and t.dim() == 1 and "bn" in key and key.endswith("weight"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
    return model.eval()


def pytest_collection_modifyitems(session, config, items):
    """The ci-profile notebooks are the longest test (one module fixture): schedule them first, so that under
    pytest-xdist the other worker runs everything else meanwhile instead of idling at the end."""
    items.sort(key=lambda item: item.path.name != "test_notebooks.py")  # stable: file order kept otherwise
