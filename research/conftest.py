"""The research tests use the main suite's fixtures (tests/conftest.py, importable as ``conftest``)."""

from conftest import decoded_image_cache_in_tmp, tiny_data  # noqa: F401  (fixtures, registered by name)
