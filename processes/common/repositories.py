"""Which repository arguments may reach git: an allow-list, checked where a person types them.

A repository argument is handed to ``git clone``, and git reads more into it than a location:
``--upload-pack=…`` or ``-c core.sshCommand=…`` are options that run commands, ``ext::sh -c …``
is a remote helper that runs a shell, and ``file://`` or a bare path reach any repository on the
worker's disk. So only these are accepted:

- ``https://host/path`` and ``ssh://[user@]host/path``;
- scp form ``user@host:path`` (``git@github.com:acme/rules.git``);
- an absolute local path that, with every symlink resolved, lies under one of the directories the
  operator allows in ``SHEPHERD_REPO_ROOTS`` (``:``-separated, like PATH). Unset: no local paths.

Anything else is refused with one line saying what is accepted. The check runs on the bot (so no
run starts) and again in the task before git (``check_repository``), and git itself runs with
``GIT_ALLOW_PROTOCOL`` (``git_protocol_env``) as a last line.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic_settings import BaseSettings, SettingsConfigDict

URL_SCHEMES = ("https", "ssh")
ACCEPTED = "an https:// or ssh:// URL, user@host:path, or a local path under SHEPHERD_REPO_ROOTS"
_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_SCP = re.compile(r"^(?P<user>[^@/:]+)@(?P<host>[^@/:]+):(?P<path>.+)$")


class RepoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHEPHERD_", extra="ignore")

    repo_roots: str = ""
    """``SHEPHERD_REPO_ROOTS``: directories local repositories may be in, ``:``-separated."""


def repo_roots() -> list[Path]:
    """The allowed roots, resolved (read each time: the operator's setting, not cached)."""
    return [Path(p).expanduser().resolve() for p in RepoSettings().repo_roots.split(":") if p.strip()]


def is_git_repository(path: Path) -> bool:
    """A working tree (``.git`` inside) or a bare repository (``HEAD`` and ``objects`` inside)."""
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def is_local(value: str) -> bool:
    """A value ``check_repository`` accepted as a local path (the rest are URLs)."""
    return value.startswith("/")


def check_repository(value: str, roots: list[Path] | None = None) -> str:
    """The repository to hand to git (a local path fully resolved), or ValueError with one line."""
    value = value.strip()
    shown = value[:80]
    if not value:
        raise ValueError(f"is empty: give {ACCEPTED}")
    if value.startswith("-"):
        raise ValueError(f"must not begin with '-' (git would read it as an option), got '{shown}'")
    if "::" in value:
        raise ValueError(f"git remote helpers (like ext::) are not allowed: give {ACCEPTED}")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"must be one word without spaces: give {ACCEPTED}")
    if "://" in value:
        return _check_url(value, shown)
    scp = _SCP.match(value)
    if scp and not value.startswith("/"):
        if not (_USER.match(scp["user"]) and _HOST.match(scp["host"])) or scp["path"].startswith("-"):
            raise ValueError(f"is not a usable user@host:path, got '{shown}'")
        return value
    return _check_local(value, shown, repo_roots() if roots is None else roots)


def _check_url(value: str, shown: str) -> str:
    scheme = value.split("://", 1)[0].lower()
    if scheme not in URL_SCHEMES:
        raise ValueError(f"{scheme}:// is not allowed: give {ACCEPTED}")
    parts = urlsplit(value)
    if not parts.hostname or not _HOST.match(parts.hostname) or parts.path in ("", "/"):
        raise ValueError(f"is not a usable {scheme}:// URL (a host and a repository path), got '{shown}'")
    return value


def _check_local(value: str, shown: str, roots: list[Path]) -> str:
    if not roots:
        raise ValueError("local repositories are not enabled here (the operator lists the directories they may "
                         "be in with SHEPHERD_REPO_ROOTS): give an https:// or ssh:// URL, or user@host:path")
    path = Path(value).expanduser()
    if not path.is_absolute():
        raise ValueError(f"a local repository must be an absolute path under SHEPHERD_REPO_ROOTS, got '{shown}'")
    real = path.resolve()  # every symlink and '..' followed: /srv/repos/../../etc is /etc
    if not any(real.is_relative_to(root) for root in roots):
        raise ValueError(f"{shown} is outside the directories allowed for repositories (SHEPHERD_REPO_ROOTS: "
                         f"{':'.join(str(r) for r in roots)})")
    if not real.is_dir():
        raise ValueError(f"no such directory: {shown}")
    if not is_git_repository(real):
        raise ValueError(f"{shown} is not a git repository (no .git in it)")
    return str(real)


def git_protocol_env() -> dict[str, str]:
    """Transports git may use at all, whatever a URL, a config file or a redirect says.

    ``file`` is for local repositories, which ``check_repository`` has already held to the
    allowed roots (and for operators' ``url.<base>.insteadOf`` mirrors); ``ext``, ``fd``, plain
    ``git://`` and ``http://`` and every other remote helper are refused by git itself.
    """
    return {"GIT_ALLOW_PROTOCOL": "https:ssh:file"}
