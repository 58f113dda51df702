import gzip
import struct

import numpy as np
import pytest
import torch

from aq4svit_lib.data import SPLIT_NAMES, SplitSpec, get_split, load_splits
from aq4svit_lib.data import fashion_mnist as fm
from aq4svit_lib.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from aq4svit_lib.errors import DataError, UsageError


def write_idx(path, magic, array, compress=True, truncate=0):
    array = np.asarray(array, dtype=np.uint8)
    raw = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes()
    raw = raw[: len(raw) - truncate] if truncate else raw
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def fake_fmnist(directory, n_train=50, n_test=20, **overrides):
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte.gz": (IMAGES_MAGIC, rng.integers(0, 255, (n_train, 28, 28))),
        "train-labels-idx1-ubyte.gz": (LABELS_MAGIC, rng.integers(0, 10, n_train)),
        "t10k-images-idx3-ubyte.gz": (IMAGES_MAGIC, rng.integers(0, 255, (n_test, 28, 28))),
        "t10k-labels-idx1-ubyte.gz": (LABELS_MAGIC, rng.integers(0, 10, n_test)),
    }
    files.update(overrides)
    for name, (magic, arr) in files.items():
        write_idx(directory / name, magic, arr)
    fm._load_cached.cache_clear()
    return directory


# -- the real dataset ---------------------------------------------------------------------
def test_default_splits_have_documented_sizes():
    splits = load_splits()
    assert {k: len(v) for k, v in splits.items()} == {"train": 55000, "search": 2000, "minibatch": 256, "verify": 3000, "test": 10000}


def test_splits_are_disjoint_and_minibatch_is_search_head():
    s = load_splits()
    assert s["search"].pool == s["train"].pool == "train" and s["test"].pool == "test"
    assert not set(s["search"].indices) & set(s["train"].indices)
    assert len(set(s["search"].indices) | set(s["verify"].indices) | set(s["train"].indices)) == 60000
    np.testing.assert_array_equal(s["minibatch"].indices, s["search"].indices[:256])


def test_splits_are_deterministic_and_seed_sensitive():
    a = load_splits(spec=SplitSpec(5000, 256, seed=0))
    fm._load_cached.cache_clear()
    b = load_splits(spec=SplitSpec(5000, 256, seed=0))
    c = load_splits(spec=SplitSpec(5000, 256, seed=1))
    for name in SPLIT_NAMES:
        assert a[name].hash == b[name].hash
        np.testing.assert_array_equal(a[name].indices, b[name].indices)
    assert a["search"].hash != c["search"].hash
    assert a["test"].hash == c["test"].hash
    assert len({a[n].hash for n in SPLIT_NAMES}) == 5


def test_split_size_is_configurable():
    s = load_splits(spec=SplitSpec(search_size=1000, minibatch_size=100, verify_size=500))
    assert len(s["search"]) == 1000 and len(s["minibatch"]) == 100 and len(s["verify"]) == 500 and len(s["train"]) == 58500
    assert "verify" not in load_splits(spec=SplitSpec(1000, 100, verify_size=0))
    assert len(load_splits(spec=SplitSpec(1000, 100, test_size=300))["test"]) == 300


def test_verify_is_disjoint_from_search_and_train_and_defaults_keep_the_training_set():
    s = load_splits(spec=SplitSpec())  # 2000 search + 3000 verify
    search, verify, train = (set(s[n].indices.tolist()) for n in ("search", "verify", "train"))
    assert len(search) == 2000 and len(verify) == 3000 and not search & verify and not (search | verify) & train
    old = load_splits(spec=SplitSpec(5000, 256, 0, verify_size=0))  # what the default models were trained without
    assert set(old["search"].indices.tolist()) == search | verify
    np.testing.assert_array_equal(old["train"].indices, s["train"].indices)
    np.testing.assert_array_equal(old["search"].indices[:2000], s["search"].indices)  # search(k) is a prefix


#: split hashes before SplitSpec.resample existed (computed on the real Fashion-MNIST): resample=0 must keep them
DEFAULT_HASHES = {"train": "2c08c4605b67aa7e", "search": "ad91e07ad460b322", "minibatch": "c9f26102da3c2a52",
                  "verify": "e4a7631fca737579", "test": "2295b3d20b4ee4d2"}
CI_HASHES = {"train": "7b2126183c2d632b", "search": "bd7e41825b42b8e6", "minibatch": "6c41e4f01d2c07ec",
             "verify": "b1bec88c527980d0", "test": "f7f9f5c25ab2f209"}


def test_resample_zero_keeps_every_split_hash():
    assert {k: v.hash for k, v in load_splits(spec=SplitSpec()).items()} == DEFAULT_HASHES
    assert {k: v.hash for k, v in load_splits(spec=SplitSpec(200, 64, 0, 200, 1000, resample=0)).items()} == CI_HASHES


def test_resample_repartitions_the_same_held_out_images():
    base = load_splits(spec=SplitSpec())
    held_out = set(base["search"].indices.tolist()) | set(base["verify"].indices.tolist())
    searches = set()
    for r in (1, 2, 7):
        s = load_splits(spec=SplitSpec(resample=r))
        search, verify = set(s["search"].indices.tolist()), set(s["verify"].indices.tolist())
        assert len(search) == 2000 and len(verify) == 3000 and not search & verify
        assert search | verify == held_out  # the same images: none of the shipped models' training images
        assert search != set(base["search"].indices.tolist())
        np.testing.assert_array_equal(s["minibatch"].indices, s["search"].indices[:256])
        for name in ("train", "test"):
            assert s[name].hash == base[name].hash
            np.testing.assert_array_equal(s[name].indices, base[name].indices)
        assert s["search"].hash != base["search"].hash and s["verify"].hash != base["verify"].hash
        searches.add(s["search"].hash)
    assert len(searches) == 3
    again = load_splits(spec=SplitSpec(resample=1))
    assert again["search"].hash == load_splits(spec=SplitSpec(resample=1))["search"].hash  # deterministic


@pytest.mark.parametrize("kwargs,needle", [
    ({"search_size": 2.5}, "integer"), ({"verify_size": -1}, "verify_size"), ({"test_size": 0}, "test_size"),
    ({"search_size": 0}, "--search-size .* must be an integer >= 1"), ({"resample": -1}, "resample"), ({"resample": 1.5}, "resample"),
    ({"resample": True}, "resample"),
])
def test_bad_split_specs_are_usage_errors(kwargs, needle):
    with pytest.raises(UsageError, match=needle):
        SplitSpec(**kwargs)


def test_batches_are_normalised_tensors_in_split_order(small_splits):
    split = small_splits["minibatch"]
    xs, ys = zip(*split.batches(25), strict=True)
    x, y = torch.cat(xs), torch.cat(ys)
    assert x.shape == (64, 1, 28, 28) and x.dtype == torch.float32
    assert torch.equal(y, split.labels)
    assert abs(float(x.mean())) < 0.3  # standardised
    x2 = torch.cat([b for b, _ in split.batches(64)])
    assert torch.equal(x, x2)


def test_fashion_mnist_labels_are_the_real_ones():
    data = fm.load_fashion_mnist()
    assert data.train_images.shape == (60000, 28, 28) and data.test_images.shape == (10000, 28, 28)
    assert torch.bincount(data.test_labels).tolist() == [1000] * 10  # the real t10k is balanced


# -- bad input ----------------------------------------------------------------------------
def test_missing_dataset_names_every_path(tmp_path, monkeypatch):
    monkeypatch.delenv("AQ4SVIT_DATA", raising=False)
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "debian")
    monkeypatch.setattr(fm, "TORCHVISION_CACHE", tmp_path / "tv")
    with pytest.raises(DataError) as err:
        fm.locate()
    msg = str(err.value)
    for p in ("debian", "tv"):
        assert str(tmp_path / p) in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "--download" in msg


@pytest.mark.parametrize("how", ["root", "env"])
def test_an_explicit_folder_without_the_files_is_an_error_not_a_fallback(tmp_path, monkeypatch, how):
    (tmp_path / "debian").mkdir()
    fake_fmnist(tmp_path / "debian")  # a usable copy exists elsewhere: it must not be used silently
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "debian")
    (tmp_path / "empty").mkdir()
    monkeypatch.delenv("AQ4SVIT_DATA", raising=False)
    if how == "env":
        monkeypatch.setenv("AQ4SVIT_DATA", str(tmp_path / "empty"))
    with pytest.raises(DataError, match="does not hold Fashion-MNIST's four IDX files"):
        fm.locate(tmp_path / "empty" if how == "root" else None)
    with pytest.raises(DataError, match="no such folder"):
        fm.locate(tmp_path / "nowhere")


def test_lookup_order_root_env_debian_cache(tmp_path, monkeypatch):
    for sub in ("root", "env", "debian", "cache"):
        (tmp_path / sub).mkdir()
        fake_fmnist(tmp_path / sub)
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "debian")
    monkeypatch.setattr(fm, "TORCHVISION_CACHE", tmp_path / "cache")
    monkeypatch.setenv("AQ4SVIT_DATA", str(tmp_path / "env"))
    assert fm.locate(tmp_path / "root") == tmp_path / "root"
    assert fm.locate() == tmp_path / "env"
    monkeypatch.delenv("AQ4SVIT_DATA")
    assert fm.locate() == tmp_path / "debian"
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "nowhere")
    assert fm.locate() == tmp_path / "cache"


def test_no_download_unless_allowed(tmp_path, monkeypatch):
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "debian")
    monkeypatch.setattr(fm, "TORCHVISION_CACHE", tmp_path / "cache")
    monkeypatch.delenv("AQ4SVIT_DATA", raising=False)
    calls = []
    monkeypatch.setattr(fm, "_download", lambda target: calls.append(target))
    with pytest.raises(DataError):
        fm.locate()
    assert calls == []
    with pytest.raises(DataError):  # the (fake) download produced nothing
        fm.locate(download=True)
    assert calls == [tmp_path / "cache"]


@pytest.mark.parametrize("name", ["train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
@pytest.mark.parametrize("defect", ["truncated", "magic", "count", "garbage"])
def test_corrupt_idx_files_name_the_file(tmp_path, defect, name):
    d = tmp_path / "fm"
    d.mkdir()
    fake_fmnist(d)
    bad = d / name
    images = "images" in name
    shape, magic = ((50, 28, 28), IMAGES_MAGIC) if images else ((20,), LABELS_MAGIC)
    if defect == "truncated":
        write_idx(bad, magic, np.zeros(shape), truncate=10)
    elif defect == "magic":
        write_idx(bad, 1234, np.zeros(shape))
    elif defect == "count":
        write_idx(bad, magic, np.zeros((shape[0] - 1, *shape[1:])))
    else:
        bad.write_bytes(b"not gzip at all")
    fm._load_cached.cache_clear()
    with pytest.raises(DataError) as err:
        fm.load_fashion_mnist(d)
    assert name in str(err.value)


def test_read_idx_reads_uncompressed_files(tmp_path):
    arr = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    out = read_idx(write_idx(tmp_path / "x-idx3-ubyte", IMAGES_MAGIC, arr, compress=False), IMAGES_MAGIC)
    np.testing.assert_array_equal(out, arr)


def test_unknown_split_lists_valid_names():
    with pytest.raises(UsageError) as err:
        get_split("validation")
    assert all(n in str(err.value) for n in SPLIT_NAMES)


def test_minibatch_larger_than_search_is_refused():
    with pytest.raises(UsageError):
        SplitSpec(search_size=100, minibatch_size=200)


# -- ImageNet layout (fake folders) -----------------------------------------------------------
def fake_imagenet(root, classes=3, per_class=4, with_train=False):
    from PIL import Image

    rng = np.random.default_rng(0)
    for pool in ["val"] + (["train"] if with_train else []):
        for c in range(classes):
            d = root / pool / f"n{c:08d}"
            d.mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(rng.integers(0, 255, (40 + 7 * i, 50, 3), dtype=np.uint8)).save(d / f"img_{i}.JPEG")
    return root


@pytest.mark.parametrize("family,resize", [("sdt", 235), ("sdtv2", 256), ("sdtv3", 232)])
def test_imagenet_eval_transform_per_family(family, resize):
    from aq4svit_lib.data import eval_transform

    ops = eval_transform(family).transforms
    assert ops[0].size == resize and ops[0].interpolation.value == "bicubic" and ops[1].size == (224, 224)


def test_imagenet_splits_from_val_only(tmp_path):
    root = fake_imagenet(tmp_path, classes=3, per_class=4)
    s = load_splits("imagenet", SplitSpec(search_size=5, minibatch_size=2, verify_size=3), root=root, family="sdtv2", num_workers=0)
    assert set(s) == {"search", "minibatch", "verify", "test"}
    assert len(s["search"]) == 5 and len(s["verify"]) == 3 and len(s["test"]) == 4
    assert not set(s["verify"].indices) & (set(s["test"].indices) | set(s["search"].indices))
    assert not set(s["search"].indices) & set(s["test"].indices)
    x, y = next(s["test"].batches(4))
    assert x.shape == (4, 3, 224, 224) and y.tolist() == s["test"].labels[:4].tolist()


def test_imagenet_search_from_train_when_present(tmp_path):
    root = fake_imagenet(tmp_path, classes=2, per_class=3, with_train=True)
    s = load_splits("imagenet", SplitSpec(search_size=4, minibatch_size=2, verify_size=1), root=root, family="sdt", num_workers=0)
    assert s["search"].pool == "train" and s["verify"].pool == "train" and len(s["test"]) == 6


def test_imagenet_without_class_folders_is_a_clear_error(tmp_path):
    (tmp_path / "val").mkdir()
    (tmp_path / "val" / "stray.JPEG").write_bytes(b"x")
    with pytest.raises(DataError) as err:
        load_splits("imagenet", root=tmp_path, family="sdtv2")
    assert str(tmp_path / "val") in str(err.value) and "class folders" in str(err.value)
