"""The web console's Flask application: login, sessions, CSRF, and the shared helpers of the pages.

Every page asks plategated through the control socket; when it is not reachable the
page says so (503) and nothing else happens. Every form carries the session's CSRF
token; a POST without the right one is refused (400) before it reaches a handler.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Response, abort, g, redirect, render_template, request, url_for

from .. import __version__
from ..config import PlategateConfig
from ..control_client import ControlClient
from .auth import Users, same_token
from .console import Console, DaemonRefused, DaemonUnavailable

logger = logging.getLogger(__name__)

COOKIE = "pg_session"
LOGIN_COOKIE = "pg_login"
PUBLIC_ENDPOINTS = {"login", "static", "health"}


def create_app(cfg: PlategateConfig, client: ControlClient | None = None, users: Users | None = None) -> Flask:
    """The console's WSGI application for *cfg*.

    Raises:
        AuthError: the password file is unreadable or malformed.
    """
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(SECRET_KEY=secrets.token_bytes(32), MAX_CONTENT_LENGTH=1024 * 1024,
                      TEMPLATES_AUTO_RELOAD=False)
    console = Console(cfg, client or ControlClient(cfg.control.socket, timeout=10.0),
                      users or Users(cfg.web.password_file))
    app.extensions["plategate"] = console
    app.jinja_env.filters["local"] = console.local
    app.jinja_env.filters["tomlish"] = tomlish
    app.jinja_env.globals.update(version=__version__, site=cfg.site_id, gate=cfg.gate_id, tz=cfg.access.timezone)

    @app.before_request
    def authenticate():
        g.console = console
        g.session = console.sessions.get(request.cookies.get(COOKIE))
        g.user = g.session.user if g.session else None
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if g.session is None:
            if request.method == "POST" or request.path.endswith((".json", ".jpg", ".csv")):
                abort(401)
            return redirect(url_for("login", next=request.full_path.rstrip("?")))
        if request.method == "POST" and not same_token(request.form.get("csrf"), g.session.csrf):
            logger.warning("web: %s from %s refused: missing or wrong CSRF token", request.path, request.remote_addr)
            abort(400, "This form has expired or did not come from this console (CSRF token missing or wrong). "
                       "Reload the page and try again.")
        return None

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                                    "style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(DaemonUnavailable)
    def unavailable(exc: DaemonUnavailable):
        return render_template("error.html", title="Gate controller not reachable", message=str(exc),
                               hint="plategated may be stopped or restarting: sudo systemctl status plategate"), 503

    @app.errorhandler(DaemonRefused)
    def refused(exc: DaemonRefused):
        return render_template("error.html", title="Request refused", message=str(exc), hint=None), 400

    @app.errorhandler(400)
    @app.errorhandler(401)
    @app.errorhandler(404)
    @app.errorhandler(413)
    def http_error(exc):
        titles = {400: "Request refused", 401: "Not logged in", 404: "Not found", 413: "Too large"}
        return render_template("error.html", title=titles.get(exc.code, "Error"),
                               message=exc.description, hint=None), exc.code

    @app.route("/login", methods=["GET", "POST"])
    def login():
        nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
        error, status = None, 200
        target = request.values.get("next") or "/"
        if urlsplit(target).netloc or not target.startswith("/") or target.startswith("//"):
            target = "/"
        if request.method == "GET" and g.session is not None:  # already logged in
            return redirect(target)
        if request.method == "POST":
            address = request.remote_addr or "?"
            wait = console.limiter.retry_after(address)
            user = request.form.get("user", "").strip()
            if not same_token(request.form.get("csrf"), request.cookies.get(LOGIN_COOKIE)):
                error, status = "The login form expired. Please try again.", 400
            elif wait > 0:
                error, status = f"Too many failed logins. Try again in {int(wait // 60) + 1} minute(s).", 429
                logger.warning("web: login for %r from %s refused: rate limit", user, address)
            elif (ok := console.users.safe_check(user, request.form.get("password", ""))) is None:
                error, status = "Logins are not possible: the password file is unreadable (see the log).", 500
            elif ok:
                console.limiter.succeeded(address)
                token, _session = console.sessions.create(user)
                logger.info("web: %s logged in from %s", user, address)
                response = redirect(target)
                response.set_cookie(COOKIE, token, httponly=True, secure=console.secure_cookies,
                                    samesite="Strict", path="/")
                response.delete_cookie(LOGIN_COOKIE, path="/login")
                return response
            else:
                console.limiter.failed(address)
                logger.warning("web: failed login for %r from %s", user, address)
                error, status = "Wrong user name or password.", 401
        response = Response(render_template("login.html", csrf=nonce, error=error, next=target), status)
        response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, secure=console.secure_cookies, samesite="Strict",
                            path="/login", max_age=3600)
        return response

    @app.post("/logout")
    def logout():
        console.sessions.end(request.cookies.get(COOKIE))
        response = redirect(url_for("login"))
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.get("/health")
    def health():
        return {"ok": True, "version": __version__}

    from . import pages

    pages.register(app, console)
    return app


def tomlish(value) -> str:
    """A config value as it is written in TOML (true/false, inline tables, "—" when unset)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {tomlish(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(tomlish(v) for v in value) + "]"
    return str(value)


def static_dir() -> Path:
    return Path(__file__).with_name("static")
