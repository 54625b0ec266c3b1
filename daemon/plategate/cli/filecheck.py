"""diag's ``files`` check: can the sandboxed service read every file the config names?"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path

SERVICE_USER = "plategate"
HIDDEN = (Path("/home"), Path("/root"), Path("/run/user"))  # ProtectHome=yes


def named_files(cfg) -> list[tuple[str, Path]]:
    """``(key, path)`` of every file the config names that the daemon must read."""
    out = list(cfg.recognition.model_paths())
    if cfg.access.allowlist_file is not None:
        out.append(("access.allowlist_file", Path(cfg.access.allowlist_file)))
    m = cfg.mqtt
    if m.enabled:
        if getattr(m, "password_file", None) is not None:
            out.append(("mqtt.password_file", Path(m.password_file)))
        if m.tls is not None:
            out += [(f"mqtt.tls.{k}", Path(v)) for k in ("ca_file", "cert_file", "key_file")
                    if (v := getattr(m.tls, k)) is not None]
        out += [("mqtt.site_public_keys", Path(k)) for k in m.site_public_keys if k.startswith("/")]
    return out


def readable_by(path: Path, uid: int, gids: set[int]) -> bool:
    """Whether *uid* with groups *gids* may read *path* and search every folder above it."""
    try:
        chain = [path, *path.parents]
        for i, p in enumerate(chain):
            st = p.stat()
            need = stat.S_IRUSR if i == 0 else stat.S_IXUSR
            if st.st_uid == uid:
                ok = st.st_mode & need
            elif st.st_gid in gids:
                ok = st.st_mode & (need >> 3)
            else:
                ok = st.st_mode & (need >> 6)
            if not ok:
                return False
    except OSError:
        return False
    return True


def service_identity(user: str = SERVICE_USER) -> tuple[int, set[int]] | None:
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return None
    gids = {pw.pw_gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}
    return pw.pw_uid, gids


def problems(cfg, identity: tuple[int, set[int]] | None) -> list[tuple[str, str]]:
    """``(severity, text)`` per problem found: FAIL for a missing file, WARN for an unreadable one."""
    found = []
    for key, path in named_files(cfg):
        if not path.exists():
            if not key.startswith("recognition."):  # the models check reports those
                found.append(("FAIL", f"{key}: {path} does not exist"))
        elif any(path.is_relative_to(h) for h in HIDDEN):
            found.append(("WARN", f"{key}: {path} is under {path.parts[1]}, hidden from the service (ProtectHome)"))
        elif identity is not None and not readable_by(path, *identity):
            found.append(("WARN", f"{key}: {path} is not readable by user {SERVICE_USER}"))
        elif identity is None and not os.access(path, os.R_OK):
            found.append(("WARN", f"{key}: {path} is not readable"))
    return found
