"""Finished experiments: each module measured one question once and its answer is in the code now (the numbers and
the decision are in docs/research/experiments.md). Kept runnable (``python -m research.NAME``) so a result can be
checked again; the tests beside them (``research/test_*.py``) guard only these modules. What measures the product
today is in ``benchmarks/``."""
