"""plategate-web's security around the pages: password file, platectl web passwd, login rate
limit, login CSRF, cookie flags, off without a password, TLS, and a daemon that is down."""

from __future__ import annotations

import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cli_support import cleanup, short_dir
from webhook_receiver import free_port

pytest.importorskip("flask", reason="the web extra is not installed")
pytest.importorskip("argon2", reason="the web extra is not installed")

from plategate.cli.main import main as platectl  # noqa: E402
from plategate.config import parse_config  # noqa: E402
from plategate.web.app import create_app  # noqa: E402
from plategate.web.auth import AuthError, read_users, set_password  # noqa: E402

PASSWORD = "open sesame 42"


@pytest.fixture
def root():
    path = short_dir()
    yield path
    cleanup(path)


def config(root: Path, **web) -> dict:
    return {"state_dir": str(root / "state"), "control": {"socket": str(root / "control.sock"), "group": ""},
            "web": {"password_file": str(root / "web.passwd"), **web}}


def write_toml(root: Path, port: int, extra: str = "") -> Path:
    path = root / "plategate.toml"
    path.write_text(f'state_dir = "{root / "state"}"\n[control]\nsocket = "{root / "control.sock"}"\ngroup = ""\n'
                    f'[web]\nbind = "127.0.0.1"\nport = {port}\npassword_file = "{root / "web.passwd"}"\n{extra}')
    return path


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_password_file(root):
    path = root / "web.passwd"
    assert read_users(path) == {}
    assert set_password(path, "alice", PASSWORD) is True
    assert set_password(path, "alice", PASSWORD + "!") is False
    users = read_users(path)
    assert list(users) == ["alice"] and users["alice"].startswith("$argon2id$")
    assert PASSWORD not in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o640
    with pytest.raises(AuthError, match="at least 8 characters"):
        set_password(path, "bob", "short")
    with pytest.raises(AuthError, match="user name 'bad user'"):
        set_password(path, "bad user", PASSWORD)
    path.write_text(path.read_text() + "mallory:plaintext\n")
    with pytest.raises(AuthError, match=r"web\.passwd:3: expected 'user:\$argon2id"):
        read_users(path)


def test_platectl_web_passwd(root, capsys, monkeypatch):
    cfg = write_toml(root, 8080)
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO(PASSWORD + "\n"))
    assert platectl(["web", "passwd", "carol", "--stdin", "-c", str(cfg)]) == 0
    assert "added user carol" in capsys.readouterr().out
    assert platectl(["web", "users", "-c", str(cfg)]) == 0
    assert capsys.readouterr().out.split() == ["carol"]
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("short\n"))
    assert platectl(["web", "passwd", "dave", "--stdin", "-c", str(cfg)]) == 1
    assert "at least 8 characters" in capsys.readouterr().err
    assert platectl(["web", "remove", "carol", "-c", str(cfg)]) == 0
    assert platectl(["web", "remove", "carol", "-c", str(cfg)]) == 2
    assert read_users(root / "web.passwd") == {}


def test_login_rate_limit_csrf_and_cookies(root):
    set_password(root / "web.passwd", "alice", PASSWORD)
    app = create_app(parse_config(config(root, login_attempts=3, tls_cert=None)))
    client = app.test_client()
    page = client.get("/login")
    assert page.status_code == 200
    token = csrf_of(page.get_data(as_text=True))
    # A login without the form's token (another site's form) is refused.
    assert client.post("/login", data={"user": "alice", "password": PASSWORD}).status_code == 400
    for _ in range(3):
        r = client.post("/login", data={"user": "alice", "password": "nope", "csrf": token})
        assert r.status_code == 401 and "Wrong user name or password" in r.get_data(as_text=True)
    r = client.post("/login", data={"user": "alice", "password": PASSWORD, "csrf": token})
    assert r.status_code == 429 and "Too many failed logins" in r.get_data(as_text=True)
    assert "pg_session" not in r.headers.get("Set-Cookie", "")
    # Another address is not locked out; its session cookie is HttpOnly and SameSite=Strict.
    other = app.test_client()
    token = csrf_of(other.get("/login", environ_base={"REMOTE_ADDR": "10.0.0.9"}).get_data(as_text=True))
    r = other.post("/login", data={"user": "alice", "password": PASSWORD, "csrf": token, "next": "//evil.example/"},
                   environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert r.status_code == 302 and r.headers["Location"] == "/"  # no open redirect
    cookie = [c for c in r.headers.getlist("Set-Cookie") if c.startswith("pg_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    # The daemon is not running: the page says so, with a 503.
    r = other.get("/", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert r.status_code == 503 and "plategated is not running" in r.get_data(as_text=True)
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]


def self_signed(root: Path) -> tuple[Path, Path]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    cert_path, key_path = root / "web.crt", root / "web.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def run_web(cfg: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "plategate.web.server", "-c", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_plategate_web_is_off_without_a_password(root):
    proc = run_web(write_toml(root, free_port()))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3
    assert "the web console is off: no password set" in err and "platectl web passwd" in err


@pytest.mark.parametrize("tls", [False, True])
def test_plategate_web_serves_http_and_https(root, tls):
    port = free_port()
    extra = ""
    context = None
    if tls:
        cert, key = self_signed(root)
        extra = f'tls_cert = "{cert}"\ntls_key = "{key}"\n'
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
    set_password(root / "web.passwd", "alice", PASSWORD)
    proc = run_web(write_toml(root, port, extra))
    scheme = "https" if tls else "http"
    try:
        assert f"listening on {scheme}://127.0.0.1:{port}/" in proc.stdout.readline()
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{scheme}://127.0.0.1:{port}/login", timeout=5, context=context) as r:
                    assert r.status == 200
                    cookies = r.headers.get_all("Set-Cookie")
                    break
            except urllib.error.URLError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert any("HttpOnly" in c and "SameSite=Strict" in c for c in cookies)
        assert all(("Secure" in c) == tls for c in cookies)
        with pytest.raises(urllib.error.HTTPError) as refused:  # not logged in
            urllib.request.urlopen(f"{scheme}://127.0.0.1:{port}/status.json", timeout=5, context=context)
        assert refused.value.code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_broken_password_file_refuses_logins_with_a_reason(root):
    set_password(root / "web.passwd", "alice", PASSWORD)
    client = create_app(parse_config(config(root))).test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    (root / "web.passwd").write_text("alice:not-a-hash\n")
    r = client.post("/login", data={"user": "alice", "password": PASSWORD, "csrf": token})
    assert r.status_code == 500 and "password file is unreadable" in r.get_data(as_text=True)
