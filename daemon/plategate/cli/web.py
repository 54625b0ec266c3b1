"""platectl web: users of the web console (plategate-web).

``platectl web passwd USER`` sets a password (asked twice, or one line from stdin with
``--stdin``); the web console stays off until at least one user has one.
``platectl web users`` lists them and ``platectl web remove USER`` deletes one.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from . import common
from .common import UsageError
from .output import emit


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("web", help="web console users and passwords",
                              description="Manage the users of the web console (plategate-web). The console "
                                          "does not start until a password is set.")
    sub = p.add_subparsers(dest="web_command", metavar="ACTION")
    sub.required = True
    pw = sub.add_parser("passwd", help="set (or add) a user's password")
    pw.add_argument("user", nargs="?", default="admin", help="user name (default: admin)")
    pw.add_argument("--stdin", action="store_true", help="read the password from the first line of stdin")
    pw.set_defaults(func=run_passwd)
    users = sub.add_parser("users", help="list the users")
    users.set_defaults(func=run_users)
    rm = sub.add_parser("remove", help="delete a user")
    rm.add_argument("user")
    rm.set_defaults(func=run_remove)


def _path(args: argparse.Namespace):
    return common.load(args).web.password_file


def run_passwd(args: argparse.Namespace) -> int:
    from ..web.auth import set_password

    if args.stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise UsageError("no terminal to ask the password on: use --stdin")
        password = getpass.getpass(f"New password for {args.user}: ")
        if getpass.getpass("Again: ") != password:
            raise UsageError("the two passwords differ")
    path = _path(args)
    new = set_password(path, args.user, password)
    emit(args.json, {"user": args.user, "new": new, "file": str(path)},
         lambda d: f"{'added user' if new else 'password changed for'} {args.user} in {path}"
                   + ("; start the console: sudo systemctl enable --now plategate-web" if new else ""))
    return 0


def run_users(args: argparse.Namespace) -> int:
    from ..web.auth import read_users

    names = sorted(read_users(_path(args)))
    emit(args.json, {"users": names}, lambda d: "\n".join(names) if names else "no users: the web console is off")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from ..web.auth import remove_user

    if not remove_user(_path(args), args.user):
        raise UsageError(f"no web user {args.user!r}")
    emit(args.json, {"removed": args.user}, lambda d: f"removed web user {args.user}")
    return 0
