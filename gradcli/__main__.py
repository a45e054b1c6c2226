"""``python -m gradcli``: the same as the ``gradcli`` console script."""

from gradcli.cli import main

if __name__ == "__main__":
    main()
