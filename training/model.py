"""The classifier: preprocessing stage -> MobileNetV2 backbone -> pooling -> dropout -> 7-way softmax.

The model takes (N, 48, 48, 1) faces with values in [0, 255] (the output of
``fer_app.preprocess.prepare_batch``); resizing to ``img_size``, scaling and the gray-to-RGB repeat
are layers inside it (``fer_app.preprocess.model_input_stage``).
"""

from __future__ import annotations

from pathlib import Path

from fer_app.labels import NUM_CLASSES
from fer_app.preprocess import FACE_SIZE, model_input_stage

BACKBONE_NAME = "mobilenetv2"


def build_model(img_size: int = 48, alpha: float = 1.0, weights: str | None = None,
                dropout: float = 0.3, bn_momentum: float = 0.9):
    """Build the classifier. ``weights``: None/'none', 'imagenet' (Keras download) or a path to a
    no-top MobileNetV2 ``.weights.h5`` file such as ``mobilenetv2_imagenet_notop.weights.h5``.

    ``bn_momentum``: Keras' MobileNetV2 uses 0.999, which makes validation lag far behind training
    when fine-tuning on a new domain for a few epochs; 0.9 tracks it.
    """
    import keras
    from keras import layers

    if img_size < 32:
        raise ValueError("img_size must be at least 32")
    weights_arg = None if weights in (None, "none") else weights
    keras_weights = "imagenet" if weights_arg == "imagenet" else None
    if keras_weights == "imagenet" and alpha not in (0.35, 0.5, 0.75, 1.0, 1.3, 1.4):
        raise ValueError(f"no ImageNet weights for alpha {alpha}")
    base = keras.applications.MobileNetV2(input_shape=(img_size, img_size, 3), alpha=alpha,
                                          include_top=False, weights=keras_weights, name="backbone")
    if weights_arg not in (None, "imagenet"):
        path = Path(weights_arg)
        if not path.is_file():
            raise FileNotFoundError(f"weights file not found: {path}")
        base.load_weights(str(path))
    for layer in base.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = bn_momentum

    inputs = keras.Input((FACE_SIZE, FACE_SIZE, 1), name="face")
    x = model_input_stage(inputs, img_size)
    x = base(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name=f"fer_{BACKBONE_NAME}_a{alpha}_{img_size}")


def backbone(model):
    return model.get_layer("backbone")


def set_backbone_trainable(model, trainable: bool) -> None:
    """Freeze (head-only phase) or unfreeze (fine-tuning) the backbone."""
    backbone(model).trainable = trainable
