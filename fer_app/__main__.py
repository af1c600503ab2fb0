"""``python -m fer_app`` is the ``fer`` command (:mod:`fer_app.cli`)."""

from fer_app.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
