"""Shared code of the collbench Python tools (collbench-plot, -compare, -hwcompare).

Nothing here imports numpy or matplotlib at module load, so that `require()` can
re-execute the calling script under /usr/bin/python3 (Debian's numpy/matplotlib)
when it was started by an interpreter that lacks them.
"""

import os
import sys

SYSTEM_PYTHON = "/usr/bin/python3"
_REEXEC_FLAG = "COLLBENCH_PY_REEXEC"


class InputError(Exception):
    """Unusable input (file, folder or option): the CLI prints one line and exits 2."""


def require(prog, modules=("numpy",)):
    """Make sure `modules` import; otherwise re-exec under /usr/bin/python3 or exit 2.

    Called by each script before it imports anything heavy.
    """
    missing = []
    for name in modules:
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if not missing:
        return
    here = os.path.realpath(sys.executable or "")
    target = os.path.realpath(SYSTEM_PYTHON)
    if (os.environ.get(_REEXEC_FLAG) != "1" and os.path.exists(SYSTEM_PYTHON)
            and here != target):
        os.environ[_REEXEC_FLAG] = "1"
        script = os.path.realpath(sys.argv[0])
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, script] + sys.argv[1:])
    sys.stderr.write(
        f"{prog}: error: Python modules not found: {', '.join(missing)} "
        f"(interpreter {sys.executable}); run with {SYSTEM_PYTHON} or install "
        f"Debian's python3-numpy python3-matplotlib\n")
    sys.exit(2)


def run_cli(prog, main, argv=None):
    """Run `main(argv)`, turning InputError into one line on stderr and exit code 2."""
    try:
        code = main(argv)
    except InputError as exc:
        sys.stderr.write(f"{prog}: error: {exc}\n")
        code = 2
    except BrokenPipeError:
        code = 0
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        code = 130
    return code


def make_parser(prog, description, epilog=None):
    """An argparse parser whose usage errors are one line: 'prog: error: ... (see --help)'."""
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message):
            sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
            sys.exit(2)

    return _Parser(prog=prog, description=description, epilog=epilog,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
