"""The EfficientNet-Lite0 port: TensorFlow SAME padding, the ImageNet weights' accuracy on real photos
(colour and gray), and the histogram network built on it."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image

from colorstudio.color import normalize_l, rgb_to_lab
from colorstudio.errors import ColorStudioError
from colorstudio.models.encoder import (
    EfficientNetLite,
    SameConv2d,
    _same_padding,
    convert_package_weights,
    gray_input,
    load_pretrained_weights,
)
from colorstudio.models.histogram import HistogramColorizer, HistogramConfig

CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_CLASSES = {967, 968, 504}  # espresso, cup, coffee mug


@pytest.mark.parametrize(("size", "kernel", "stride", "expected"), [(224, 3, 2, (0, 1)), (224, 5, 2, (1, 2)),
                                                                  (7, 3, 2, (1, 1)), (8, 3, 1, (1, 1)), (9, 5, 1, (2, 2))])
def test_same_padding_matches_tensorflow(size, kernel, stride, expected):
    assert _same_padding(size, kernel, stride) == expected


def test_same_conv_output_size_is_ceil_of_input_over_stride():
    conv = SameConv2d(1, 1, 5, stride=2, bias=False)
    for side in (31, 32, 33):
        assert conv(torch.zeros(1, 1, side, side)).shape[-1] == -(-side // 2)


def test_taps_have_strides_2_to_32():
    taps = EfficientNetLite()(torch.zeros(1, 3, 64, 96))
    assert [t.shape[-2:] for t in taps] == [(64 // s, 96 // s) for s in (2, 4, 8, 16, 32)]
    assert [t.shape[1] for t in taps] == EfficientNetLite().tap_channels


def test_gray_input_is_the_gray_photo_scaled_as_in_imagenet_training():
    rgb = np.linspace(0, 1, 11, dtype=np.float32)[:, None, None].repeat(3, -1)  # (11, 1, 3) grays
    L = torch.from_numpy(normalize_l(rgb_to_lab(rgb)[..., 0]))[None, None]
    x = gray_input(L)
    assert x.shape == (1, 3, 11, 1)
    np.testing.assert_allclose(x[0, 0, :, 0].numpy(), (rgb[:, 0, 0] * 255 - 127) / 128, atol=1e-4)


@pytest.fixture(scope="module")
def imagenet_encoder(tmp_path_factory) -> EfficientNetLite:
    path = convert_package_weights(tmp_path_factory.mktemp("encoder") / "lite0.safetensors")
    model = EfficientNetLite(classifier=True)
    load_pretrained_weights(model, path)
    return model.eval()


def _centre_224(img: np.ndarray) -> np.ndarray:
    im = Image.fromarray(img)
    scale = 256 / min(im.size)
    im = im.resize((round(im.width * scale), round(im.height * scale)), Image.BICUBIC)
    left, top = (im.width - 224) // 2, (im.height - 224) // 2
    return np.asarray(im.crop((left, top, left + 224, top + 224)))


@pytest.mark.parametrize(("photo", "classes"), [("chelsea", CAT_CLASSES), ("coffee", COFFEE_CLASSES)])
def test_port_classifies_real_photos_in_colour_and_gray(imagenet_encoder, photo, classes):
    rgb = _centre_224(getattr(skimage.data, photo)())
    colour = (torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)[None] - 127) / 128
    L = torch.from_numpy(normalize_l(rgb_to_lab(rgb.astype(np.float32) / 255)[..., 0]))[None, None]
    with torch.no_grad():
        for x in (colour, gray_input(L)):
            top5 = set(imagenet_encoder.classify(x).topk(5).indices[0].tolist())
            assert top5 & classes, (photo, top5)


def test_missing_converted_weights_name_the_convert_command(tmp_path):
    with pytest.raises(ColorStudioError, match="colorstudio.models.encoder convert"):
        load_pretrained_weights(EfficientNetLite(), tmp_path / "absent.safetensors")


def _encoder_histogram() -> HistogramColorizer:
    return HistogramColorizer(HistogramConfig(encoder="efficientnet_lite0", norm="group", hypercolumn_channels=32,
                                              head_blocks=1, hint_branch_channels=8))


def test_histogram_on_encoder_gives_quarter_resolution_distributions_for_any_size():
    model = _encoder_histogram().eval()
    with torch.no_grad():
        hue, chroma = model.predict_distributions(torch.zeros(2, 1, 50, 70))
    assert hue.shape == chroma.shape == (2, 32, 13, 18)
    torch.testing.assert_close(hue.sum(dim=1), torch.ones(2, 13, 18))


def test_hint_injection_starts_at_zero_so_the_pretrained_features_are_unchanged():
    model = _encoder_histogram().eval()
    x = torch.zeros(1, 4, 64, 64)
    hinted = x.clone()
    hinted[:, 1:, 20:30, 20:30] = torch.tensor([0.4, -0.3, 1.0])[:, None, None]
    with torch.no_grad():
        taps_plain = model._encoder_sources(x)[2:]
        taps_hinted = model._encoder_sources(hinted)[2:]
    for a, b in zip(taps_plain, taps_hinted, strict=True):
        torch.testing.assert_close(a, b)


def test_encoder_learns_at_its_own_rate_and_not_at_all_when_frozen():
    from colorstudio.training.loop import _param_groups

    model = _encoder_histogram()
    groups = _param_groups(model, weight_decay=1e-4)
    encoder_ids = {id(p) for p in model.encoder.parameters()}
    for group in groups:
        in_encoder = {id(p) in encoder_ids for p in group["params"]}
        assert len(in_encoder) == 1
        assert group["lr_scale"] == (model.config.encoder_lr_scale if in_encoder.pop() else 1.0)
    frozen = HistogramColorizer(HistogramConfig(encoder="efficientnet_lite0", encoder_lr_scale=0.0, hypercolumn_channels=16))
    trained = {id(p) for g in _param_groups(frozen, 1e-4) for p in g["params"]}
    assert trained and not trained & {id(p) for p in frozen.encoder.parameters()}


def test_a_frozen_encoder_keeps_its_weights_and_imagenet_statistics_through_a_training_step():
    cfg = HistogramConfig(encoder="efficientnet_lite0", encoder_lr_scale=0.0, norm="group", hypercolumn_channels=16,
                          hint_branch_channels=0)
    model = HistogramColorizer(cfg).train()
    assert not model.encoder.training and model.h_fc1.training
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    batch = {"L": torch.rand(2, 1, 64, 64) * 2 - 1, "ab": torch.rand(2, 2, 64, 64) - 0.5}
    loss, _ = model.training_loss(batch, hints=False)
    loss.backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert model.hue_head.weight.grad is not None and model.hue_head.weight.grad.abs().sum() > 0
    for k, v in model.encoder.state_dict().items():
        torch.testing.assert_close(v, before[k], msg=k)


def test_reset_encoder_needs_a_warm_start(tmp_path):
    from colorstudio.training.train_histogram import train_histogram

    with pytest.raises(ColorStudioError, match="--reset-encoder"):
        train_histogram([tmp_path / "none.tar"], tmp_path / "run", steps=1, reset_encoder=True)
    assert not (tmp_path / "run").exists()


def test_hints_at_the_stem_start_at_zero_too():
    model = HistogramColorizer(HistogramConfig(encoder="efficientnet_lite0", hypercolumn_channels=16, hint_stem=True)).eval()
    x = torch.zeros(1, 4, 64, 64)
    hinted = x.clone()
    hinted[:, 1:, 8:14, 8:14] = torch.tensor([0.4, -0.3, 1.0])[:, None, None]
    with torch.no_grad():
        for a, b in zip(model._encoder_sources(x)[2:], model._encoder_sources(hinted)[2:], strict=True):
            torch.testing.assert_close(a, b)
    assert model.hint_inject2.weight.abs().sum() == 0 and model.lr_scale("hint_inject2.weight") == 1.0


def test_the_head_tap_is_the_map_the_imagenet_classifier_reads(imagenet_encoder):
    photo = torch.from_numpy(np.asarray(Image.fromarray(skimage.data.chelsea()).resize((224, 224)), np.float32))
    x = ((photo - 127.0) / 128.0).permute(2, 0, 1)[None]
    with torch.no_grad():
        taps = imagenet_encoder(x)
        logits = imagenet_encoder.classify(x)
    assert len(taps) == 6 and taps[-1].shape[1:] == (1280, 7, 7)
    assert int(logits.argmax()) in CAT_CLASSES
    torch.testing.assert_close(imagenet_encoder._fc(taps[-1].mean(dim=(-2, -1))), logits)
    assert EfficientNetLite(head=True).tap_channels[-1] == 1280 and len(EfficientNetLite().tap_channels) == 5


def test_a_model_given_the_encoder_head_starts_where_the_model_without_it_stood():
    base = dict(encoder="efficientnet_lite0", encoder_lr_scale=0.0, norm="group", hypercolumn_channels=16,
                hint_branch_channels=0)
    without = HistogramColorizer(HistogramConfig(**base)).eval()
    with_head = HistogramColorizer(HistogramConfig(**base, encoder_head=True)).eval()
    missing, unexpected = with_head.load_state_dict(without.state_dict(), strict=False)
    assert not unexpected and {k.split(".")[0] for k in missing} == {"encoder", "h_fc1"}
    x = torch.rand(2, 4, 64, 64) * 2 - 1
    with torch.no_grad():
        for a, b in zip(without(x), with_head(x), strict=True):
            torch.testing.assert_close(a, b)
    with_head.train()
    batch = {"L": torch.rand(2, 1, 64, 64) * 2 - 1, "ab": torch.rand(2, 2, 64, 64) - 0.5}
    with_head.training_loss(batch, hints=False)[0].backward()
    for layer in (with_head.h_fc1.proj[-1], with_head.h_fc1.head_global_proj):
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
    assert with_head.encoder._conv_head.weight.grad is None


def test_a_partly_frozen_encoder_trains_only_its_later_blocks():
    cfg = HistogramConfig(encoder="efficientnet_lite0", encoder_lr_scale=0.1, encoder_frozen_blocks=5, norm="group",
                          hypercolumn_channels=16, hint_branch_channels=0)
    model = HistogramColorizer(cfg).train()
    frozen = [model.encoder._conv_stem, model.encoder._bn0, *model.encoder._blocks[:5]]
    assert not any(m.training for m in frozen) and model.encoder._blocks[5].training
    before = [{k: v.clone() for k, v in m.state_dict().items()} for m in frozen]
    batch = {"L": torch.rand(2, 1, 64, 64) * 2 - 1, "ab": torch.rand(2, 2, 64, 64) - 0.5}
    model.training_loss(batch, hints=False)[0].backward()
    assert all(p.grad is None for m in frozen for p in m.parameters())
    assert all(p.grad is not None for p in model.encoder._blocks[5:].parameters())
    for m, state in zip(frozen, before, strict=True):
        for k, v in m.state_dict().items():
            torch.testing.assert_close(v, state[k], msg=k)
    with pytest.raises(ValueError, match="encoder_frozen_blocks"):
        HistogramColorizer(HistogramConfig(encoder="efficientnet_lite0", encoder_frozen_blocks=17))
