"""Image datasets (digits, folders, NPZ, IDX), the U-Net, ModelConfig for images, image grids."""

import gzip
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from flowscope.core.images import (
    ImageDataError,
    ImageDataset,
    is_image_source,
    load_image_dataset,
    read_idx,
)
from flowscope.core.models import ModelConfig, build_model
from flowscope.core.render import image_grid, save_image_grid

# ----------------------------------------------------------------------------- digits


def test_digits_shape_range_labels():
    from sklearn.datasets import load_digits

    ds = load_image_dataset()  # the default
    assert ds.name == "digits" and len(ds) == 1797 and ds.shape == (1, 8, 8)
    assert ds.value_range == (0.0, 16.0) and ds.num_classes == 10
    assert ds.class_names == [str(i) for i in range(10)]
    assert float(ds.images.min()) == -1.0 and float(ds.images.max()) == 1.0
    assert ds.labels.dtype == torch.int64 and set(ds.labels.tolist()) == set(range(10))
    ref = torch.from_numpy(load_digits().images).float()[:, None]
    assert ds.labels.tolist() == load_digits().target.tolist()  # read without importing sklearn
    torch.testing.assert_close(ds.to_original(ds.images), ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(ds.from_original(ref), ds.images, atol=1e-6, rtol=0)
    assert float(ds.to_original(torch.full((1,), 3.0))) == 16.0  # clamped


def test_sample_batch_shapes_seed_and_class():
    ds = load_image_dataset("digits")
    x, y = ds.sample_batch(32, torch.Generator().manual_seed(0))
    assert x.shape == (32, 1, 8, 8) and y.shape == (32,) and x.dtype == torch.float32
    x2, y2 = ds.sample_batch(32, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2) and torch.equal(y, y2)
    _, y3 = ds.sample_batch(50, y=7)
    assert (y3 == 7).all()
    with pytest.raises(ImageDataError, match="does not exist"):
        ds.sample_batch(2, y=10)
    small = load_image_dataset("digits", size=16, grayscale=False)
    assert small.shape == (3, 16, 16) and float(small.images.abs().max()) <= 1.0


def test_dataset_validation():
    with pytest.raises(ImageDataError, match="labels"):
        ImageDataset(torch.zeros(4, 1, 2, 2), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ImageDataError, match=r"\[-1, 1\]"):
        ImageDataset(torch.full((2, 1, 2, 2), 5.0))
    with pytest.raises(ImageDataError, match="NaN"):
        ImageDataset(torch.full((2, 1, 2, 2), float("nan")))
    with pytest.raises(ImageDataError, match="channels"):
        ImageDataset(torch.zeros(2, 2, 4, 4))
    un = ImageDataset(torch.zeros(3, 1, 4, 4), value_range=(0, 255))
    assert un.num_classes == 0 and un.labels is None
    x, y = un.sample_batch(5)
    assert y is None and x.shape == (5, 1, 4, 4)


# ----------------------------------------------------------------------------- folders


def _save(path, mode, size, color):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)


def test_folder_classes_mixed_sizes_gray_rgb_rgba(tmp_path):
    root = tmp_path / "shapes"
    _save(root / "cats" / "a.png", "L", (10, 10), 0)
    _save(root / "cats" / "b.png", "L", (12, 14), 255)  # another size: resized
    _save(root / "dogs" / "c.png", "RGB", (10, 10), (255, 0, 0))
    _save(root / "dogs" / "d.png", "RGBA", (10, 10), (0, 0, 0, 0))  # transparent -> white
    (root / "README.txt").write_text("not an image")  # ignored
    assert is_image_source(root)
    ds = load_image_dataset(root)
    assert ds.shape == (3, 10, 10) and len(ds) == 4  # mixed gray and RGB -> RGB
    assert ds.class_names == ["cats", "dogs"] and ds.labels.tolist() == [0, 0, 1, 1]
    assert ds.value_range == (0.0, 255.0)
    torch.testing.assert_close(ds.images[0], torch.full((3, 10, 10), -1.0))
    torch.testing.assert_close(ds.images[1], torch.full((3, 10, 10), 1.0))
    torch.testing.assert_close(ds.images[2, :, 0, 0], torch.tensor([1.0, -1.0, -1.0]))
    torch.testing.assert_close(ds.images[3], torch.full((3, 10, 10), 1.0))
    gray = load_image_dataset(root, size=6, grayscale=True)
    assert gray.shape == (1, 6, 6)
    assert abs(float(gray.images[2].mean()) - (0.299 * 2 - 1)) < 0.01  # red's luma


def test_all_gray_folder_is_one_channel_and_unlabelled_folder(tmp_path):
    _save(tmp_path / "g" / "x" / "1.png", "L", (5, 5), 10)
    _save(tmp_path / "g" / "x" / "2.jpg", "RGB", (5, 5), (40, 40, 40))  # gray content in RGB
    assert load_image_dataset(tmp_path / "g").shape == (1, 5, 5)
    _save(tmp_path / "flat" / "1.png", "L", (4, 4), 0)
    _save(tmp_path / "flat" / "2.png", "L", (4, 4), 200)
    flat = load_image_dataset(tmp_path / "flat")
    assert flat.labels is None and flat.num_classes == 0 and len(flat) == 2


def test_folder_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageDataError, match="empty"):
        load_image_dataset(tmp_path / "empty")
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "notes.txt").write_text("hello")
    with pytest.raises(ImageDataError, match="no images"):
        load_image_dataset(tmp_path / "text")
    bad = tmp_path / "bad"
    _save(bad / "a" / "good.png", "L", (4, 4), 0)
    (bad / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    (bad / "a" / "zbroken.jpg").write_bytes(b"garbage")
    with pytest.raises(ImageDataError, match=r"2 of 3 image\(s\).*broken\.png"):
        load_image_dataset(bad)
    loose = tmp_path / "loose"
    _save(loose / "a" / "1.png", "L", (4, 4), 0)
    _save(loose / "stray.png", "L", (4, 4), 0)
    with pytest.raises(ImageDataError, match="stray.png"):
        load_image_dataset(loose)
    with pytest.raises(ImageDataError, match="not found"):
        load_image_dataset(tmp_path / "nope")


# ----------------------------------------------------------------------------- NPZ and IDX


def test_npz_keras_style_and_images_labels(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 6, 6), dtype=np.uint8)
    y = np.arange(20) % 4 + 3  # labels 3..6 -> classes 0..3 named '3'..'6'
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=y, x_test=x[:2], y_test=y[:2])
    ds = load_image_dataset(tmp_path / "mnist.npz")
    assert ds.shape == (1, 6, 6) and len(ds) == 20 and ds.value_range == (0.0, 255.0)
    assert ds.class_names == ["3", "4", "5", "6"] and ds.labels[:4].tolist() == [0, 1, 2, 3]
    torch.testing.assert_close(ds.to_original(ds.images)[:, 0], torch.from_numpy(x).float())
    rgb = rng.random((5, 4, 4, 3)).astype(np.float32)  # NHWC floats in [0, 1]
    np.savez(tmp_path / "rgb.npz", images=rgb, labels=np.zeros(5))
    ds2 = load_image_dataset(tmp_path / "rgb.npz")
    assert ds2.shape == (3, 4, 4) and ds2.value_range == (0.0, 1.0) and ds2.num_classes == 1


def test_npz_errors(tmp_path):
    x = np.zeros((4, 3, 3), np.uint8)
    np.savez(tmp_path / "count.npz", images=x, labels=np.zeros(3))
    with pytest.raises(ImageDataError, match="3 labels for 4 images"):
        load_image_dataset(tmp_path / "count.npz")
    nan = np.zeros((4, 3, 3)) + 0.5
    nan[2, 1, 1] = np.nan
    np.savez(tmp_path / "nan.npz", images=nan)
    with pytest.raises(ImageDataError, match="image 2 holds NaN"):
        load_image_dataset(tmp_path / "nan.npz")
    np.savez(tmp_path / "pickled.npz", images=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(ImageDataError, match="refuses"):
        load_image_dataset(tmp_path / "pickled.npz")
    np.savez(tmp_path / "keys.npz", pixels=x)
    with pytest.raises(ImageDataError, match="x_train"):
        load_image_dataset(tmp_path / "keys.npz")
    (tmp_path / "junk.npz").write_bytes(b"definitely not a zip")
    with pytest.raises(ImageDataError, match="not an NPZ"):
        load_image_dataset(tmp_path / "junk.npz")
    raw = (tmp_path / "count.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ImageDataError, match="corrupt|could not read"):
        load_image_dataset(tmp_path / "cut.npz")


def _idx(path, arr: np.ndarray, magic: int, gz: bool = False):
    data = struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def test_idx_images_with_labels_beside(tmp_path):
    x = np.arange(5 * 4 * 4, dtype=np.uint8).reshape(5, 4, 4)
    y = np.array([1, 0, 1, 2, 0], dtype=np.uint8)
    _idx(tmp_path / "train-images-idx3-ubyte.gz", x, 0x00000803, gz=True)
    _idx(tmp_path / "train-labels-idx1-ubyte", y, 0x00000801)
    assert np.array_equal(read_idx(tmp_path / "train-labels-idx1-ubyte"), y)
    ds = load_image_dataset(tmp_path / "train-images-idx3-ubyte.gz")
    assert ds.shape == (1, 4, 4) and len(ds) == 5 and ds.labels.tolist() == y.tolist()
    assert ds.value_range == (0.0, 255.0)
    torch.testing.assert_close(ds.to_original(ds.images)[:, 0], torch.from_numpy(x).float())
    assert load_image_dataset(tmp_path).labels.tolist() == y.tolist()  # the unpacked folder
    _idx(tmp_path / "t10k-images-idx3-ubyte", x, 0x00000803)  # no labels beside it
    alone = load_image_dataset(tmp_path / "t10k-images-idx3-ubyte")
    assert alone.labels is None and "no labels" in alone.notes[0]


def test_idx_errors(tmp_path):
    x = np.zeros((3, 4, 4), np.uint8)
    _idx(tmp_path / "a-images-idx3-ubyte", x, 0x00000803)
    _idx(tmp_path / "a-labels-idx1-ubyte", np.zeros(2, np.uint8), 0x00000801)
    with pytest.raises(ImageDataError, match="2 labels for 3 images"):
        load_image_dataset(tmp_path / "a-images-idx3-ubyte")
    raw = (tmp_path / "a-images-idx3-ubyte").read_bytes()
    (tmp_path / "b-images-idx3-ubyte").write_bytes(raw[:-5])
    with pytest.raises(ImageDataError, match="truncated"):
        load_image_dataset(tmp_path / "b-images-idx3-ubyte")
    (tmp_path / "c-images-idx3-ubyte").write_bytes(b"\x12\x34\x56\x78" + raw[4:])
    with pytest.raises(ImageDataError, match="magic"):
        load_image_dataset(tmp_path / "c-images-idx3-ubyte")
    (tmp_path / "d-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw)[:30])
    with pytest.raises(ImageDataError, match="corrupt"):
        load_image_dataset(tmp_path / "d-images-idx3-ubyte.gz")


# ----------------------------------------------------------------------------- U-Net


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 16, 16), (1, 7, 9)])
def test_unet_forward_shapes(shape):
    for k in (0, 3):
        mc = ModelConfig(arch="unet", image_shape=shape, channels=8, num_classes=k)
        assert mc.dim == int(np.prod(shape))
        net = build_model(mc)
        x = torch.randn(4, *shape)
        y = torch.tensor([0, 1, 2, 3]) if k else None
        out = net(x, torch.rand(4), y)
        assert out.shape == x.shape and torch.isfinite(out).all()


def test_unet_null_label_is_none_and_labels_matter():
    mc = ModelConfig(arch="unet", image_shape=(1, 8, 8), channels=8, num_classes=3)
    net = build_model(mc)
    with torch.no_grad():  # residual branches and the output start at zero: give them weights
        for name, p in net.named_parameters():
            if name.endswith("weight") and ("conv2" in name or name.startswith("out.")):
                p.normal_(0.0, 0.2)
    x, t = torch.randn(4, 1, 8, 8), torch.rand(4)
    null = torch.full((4,), mc.null_label)
    torch.testing.assert_close(net(x, t, None), net(x, t, null))
    assert not torch.allclose(net(x, t, torch.zeros(4, dtype=torch.long)), net(x, t, null))


def test_model_config_images_and_backwards_compatibility():
    old = {"dim": 2, "width": 64, "depth": 2, "activation": "silu", "parameterization": "velocity"}
    assert ModelConfig.from_dict(old) == ModelConfig(width=64, depth=2)  # pre-image checkpoints
    mc = ModelConfig(arch="unet", image_shape=[1, 28, 28], channels=16)
    assert mc.image_shape == (1, 28, 28) and mc.dim == 784 and mc.is_image
    back = ModelConfig.from_dict(mc.to_dict() | {"image_shape": [1, 28, 28]})
    assert back == mc and hash(back) == hash(mc)
    assert not ModelConfig().is_image and ModelConfig().image_shape is None
    with pytest.raises(ValueError, match="image_shape"):
        ModelConfig(arch="unet")
    with pytest.raises(ValueError, match="architecture"):
        ModelConfig(arch="transformer")
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        ModelConfig(arch="unet", image_shape=(8, 8))
    flat = build_model(ModelConfig(image_shape=(1, 4, 4), width=16, depth=1))  # an MLP on pixels
    assert flat(torch.randn(3, 1, 4, 4), torch.rand(3)).shape == (3, 1, 4, 4)


# ----------------------------------------------------------------------------- grids


def test_image_grid_layout_and_ranges(tmp_path):
    x = torch.zeros(5, 1, 4, 4)
    x[1] = 16.0
    g = image_grid(x, nrow=3, value_range=(0, 16), pad=1, scale=2)
    assert g.shape == (2 * 9 + 1, 3 * 9 + 1, 3) and g.dtype == np.uint8
    assert (g[1:9, 1:9] == 0).all() and (g[1:9, 10:18] == 255).all()
    rgb = np.random.default_rng(0).random((4, 3, 5, 5))  # in [0, 1]: no range needed
    assert image_grid(rgb).shape == (2 * 6 + 1, 2 * 6 + 1, 3)
    p = save_image_grid(rgb, tmp_path / "g.png", nrow=4)
    assert np.asarray(Image.open(p)).shape == (7, 25, 3)
    with pytest.raises(ValueError, match="C = 1 or 3"):
        image_grid(np.zeros((2, 2, 4, 4)))
