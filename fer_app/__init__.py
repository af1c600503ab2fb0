"""fer_app: facial-emotion recognition inference (image -> faces -> emotions), shared by the CLI,
the Streamlit app, training and the tests."""

from fer_app.labels import EMOTIONS

__all__ = ["EMOTIONS"]
