"""Loss and metrics of a two-head model (``training.model.build_model(crowd_head=True)``).

Its output and its targets are (N, 14): FER-2013's seven columns, then the crowd head's seven. The loss is the
sum of the two heads' cross-entropies (label smoothing on the FER-2013 head only: the crowd targets are soft
already). The FER-2013 head's accuracy keeps the name ``accuracy``, so early stopping and the best-epoch
checkpoint (``val_accuracy``) mean what they mean for a one-head model.
"""

from __future__ import annotations

from fer_app.labels import NUM_CLASSES

K = NUM_CLASSES


def two_head_loss(label_smoothing: float):
    import keras

    fer2013 = keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
    crowd = keras.losses.CategoricalCrossentropy()

    def loss(y_true, y_pred):
        return fer2013(y_true[:, :K], y_pred[:, :K]) + crowd(y_true[:, K:], y_pred[:, K:])

    return loss


def _fer2013_match(y_true, y_pred):
    import keras

    return keras.metrics.categorical_accuracy(y_true[:, :K], y_pred[:, :K])


def _crowd_match(y_true, y_pred):
    import keras

    return keras.metrics.categorical_accuracy(y_true[:, K:], y_pred[:, K:])


def fer2013_accuracy():
    import keras

    return keras.metrics.MeanMetricWrapper(_fer2013_match, name="accuracy")


def crowd_accuracy():
    import keras

    return keras.metrics.MeanMetricWrapper(_crowd_match, name="crowd_accuracy")
