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


def filters_text(args):
    """' match the filters (--collective X, --algorithm Y)' for the filters given, '' when
    none."""
    given = [f"--{name} {','.join(getattr(args, name))}" for name in ("collective", "algorithm")
             if getattr(args, name, None)]
    return f" match the filters ({', '.join(given)})" if given else ""


def check_output(path, flag):
    """Raise InputError when `path` (an output of `flag`) must not be written: a folder, a
    read-only file (kept: someone protected it), or in a folder that does not exist. Called
    before any work, so that a bad path costs nothing."""
    import stat
    try:
        st = os.stat(path)
    except FileNotFoundError:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise InputError(f"{flag} {path}: folder {folder} does not exist") from None
        return
    except OSError as exc:
        raise InputError(f"{flag} {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{flag} {path} is a directory; give a file name")
    if stat.S_ISREG(st.st_mode) and (not st.st_mode & 0o222 or not os.access(path, os.W_OK)):
        raise InputError(f"{flag} {path} is read-only; remove it or choose another name")


def write_text(path, text):
    """Write `text` to `path` through a temporary file and a rename, so that a reader (or an
    interrupted run) sees the old file or the new one; devices (/dev/null, /dev/stdout) are
    written in place."""
    import stat
    import tempfile
    try:
        if os.path.exists(path) and not stat.S_ISREG(os.stat(path).st_mode):
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            return
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.tmp.", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, os.path.realpath(path))
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None


def make_parser(prog, description, epilog=None):
    """An argparse parser whose usage errors are one line: 'prog: error: ... (see --help)'."""
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message):
            sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
            sys.exit(2)

        def parse_args(self, args=None, namespace=None):
            parsed = super().parse_args(args, namespace)
            # An empty value never means the default: it is a mistake in a script.
            for action in self._actions:
                value = getattr(parsed, action.dest, None)
                if value is action.default or value == action.default:
                    continue  # not given (an empty default is the script's, not a mistake)
                values = value if isinstance(value, list) else [value]
                if any(isinstance(v, str) and not v.strip() for v in values):
                    name = action.option_strings[-1] if action.option_strings else action.dest
                    self.error(f"argument {name}: empty value")
            return parsed

    return _Parser(prog=prog, description=description, epilog=epilog,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
