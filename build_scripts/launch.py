"""Entry point of the PyInstaller bundle (see hashlens.spec): the same `main` as the `hashlens`
console script, so the bundle takes every command and option the installed command does."""

import sys

from desktop_app.cli import main

if __name__ == "__main__":
    sys.exit(main())
