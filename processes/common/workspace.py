"""Writing files inside a clone without leaving it.

A clone's contents come from whoever can push to the repository. A committed symlink
(``rules -> /etc`` or ``rules -> ../../somewhere``) would make a plain ``path.write_text`` write
outside the clone, and one pointing at ``.git`` would write into git's own files. Every path the
worker writes in a clone goes through ``write_inside``: it follows every symlink first and refuses
a path whose real location is outside the clone's work tree or inside its ``.git``.

The clone is the worker's own temporary directory, so nothing changes it between the check and
the write; the hostile part is only what the repository already holds.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath


class OutsideWorkspace(Exception):
    """A path in a clone leads out of it (or into .git); the message says which and where."""


def resolve_inside(root: Path, relative: str) -> Path:
    """The real path of ``root/relative``, refusing one that leaves the work tree or enters .git."""
    top = root.resolve()
    parts = PurePosixPath(relative).parts
    if PurePosixPath(relative).is_absolute() or ".." in parts:
        raise OutsideWorkspace(f"'{relative}' is not a path inside the repository")
    real = (top / relative).resolve()
    if not real.is_relative_to(top):
        raise OutsideWorkspace(f"'{relative}' in the repository leads outside it (a symlink to {real}): "
                               "refusing to write there")
    if real.relative_to(top).parts[:1] == (".git",):
        raise OutsideWorkspace(f"'{relative}' in the repository leads into its .git directory: refusing to write there")
    return real


def write_inside(root: Path, relative: str, content: str) -> str:
    """Write ``content`` at ``root/relative`` (directories made as needed); returns the path that
    was written, relative to the root, as git should be told it (directory symlinks inside resolved).

    The file itself must not be a symlink, wherever it points: writing through one would change a
    different file from the one named.
    """
    path = PurePosixPath(relative)
    folder = resolve_inside(root, str(path.parent))
    target = folder / path.name
    if target.is_symlink():
        raise OutsideWorkspace(f"'{relative}' in the repository is a symlink (to {target.readlink()}): "
                               "refusing to write through it")
    folder.mkdir(parents=True, exist_ok=True)
    resolve_inside(root, str(path.parent))  # the directories just made are real ones: still inside
    target.write_text(content)
    return target.relative_to(root.resolve()).as_posix()
