"""The classifier: preprocessing stage -> MobileNetV2 backbone -> pooling -> dropout -> 7-way softmax.

With ``crowd_head`` the pooled features feed two 7-way softmax heads, ``emotion`` (FER-2013's labels) and
``crowd`` (FER+'s ten annotators, ``training.ferplus``), and the model's one output is the two side by side,
(N, 14): columns :data:`HEAD_COLUMNS` say which is which (``fer_app.model`` reads them from ``config.json``).

The model takes (N, 48, 48, 1) faces with values in [0, 255] (the output of
``fer_app.preprocess.prepare_batch``); resizing to ``img_size``, scaling and the gray-to-RGB repeat
are layers inside it (``fer_app.preprocess.model_input_stage``).
"""

from __future__ import annotations

from pathlib import Path

from fer_app.labels import NUM_CLASSES
from fer_app.preprocess import FACE_SIZE, model_input_stage

BACKBONE_NAME = "mobilenetv2"
#: {head: [first column, end column]} of a two-head model's output
HEAD_COLUMNS = {"fer2013": [0, NUM_CLASSES], "crowd": [NUM_CLASSES, 2 * NUM_CLASSES]}


def build_model(img_size: int = 48, alpha: float = 1.0, weights: str | None = None,
                dropout: float = 0.3, bn_momentum: float = 0.9, crowd_head: bool = False):
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
    if crowd_head:
        crowd = layers.Dense(NUM_CLASSES, activation="softmax", name="crowd")(x)
        outputs = layers.Concatenate(name="emotion_crowd")([outputs, crowd])
    return keras.Model(inputs, outputs, name=f"fer_{BACKBONE_NAME}_a{alpha}_{img_size}")


def backbone(model):
    return model.get_layer("backbone")


def set_backbone_trainable(model, trainable: bool) -> None:
    """Freeze (head-only phase) or unfreeze (fine-tuning) the backbone."""
    backbone(model).trainable = trainable


def load_init_weights(model, path) -> None:
    """Load a trained model's weights into ``model``, layer by layer by name, so that a one-head model's weights
    also start a two-head one: its new ``crowd`` head starts as a copy of the ``emotion`` head. (Keras'
    ``load_weights`` into a model with an extra layer only warns, and leaves layers at their random start.)"""
    import keras

    source = keras.models.load_model(path, compile=False)
    names = {layer.name for layer in source.layers}
    for layer in model.layers:
        if not layer.weights:
            continue
        name = layer.name if layer.name in names else "emotion" if layer.name == "crowd" else None
        if name is None:
            raise ValueError(f"{path} has no layer {layer.name!r} to start this model's from")
        layer.set_weights(source.get_layer(name).get_weights())
