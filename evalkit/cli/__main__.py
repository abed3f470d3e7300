"""``python -m evalkit.cli``: the command line."""

from evalkit.cli.app import main

if __name__ == "__main__":  # pragma: no cover
    main()
