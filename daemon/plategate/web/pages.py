"""The console's pages: dashboard, live view, events, allowlist, relay, activity, settings."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json

from flask import Flask, Response, abort, g, redirect, render_template, request, url_for

from .console import Console, DaemonRefused

EVENT_CSV_COLUMNS = ("id", "time", "plate", "confidence", "decision", "reason", "matched", "label",
                     "allowlist_version", "latency_ms", "opened", "candidates", "checked_text", "checked_by")
PAGE = 50
#: the reads the queue of reads to check holds by default: those the daemon is not sure of
CHECK_BELOW = "0.9"
#: the dashboard counts the reads to check of these last days, up to this many
TO_CHECK_DAYS, TO_CHECK_SHOWN = 7, 99
#: the ``reason`` of openings on request (:data:`plategate.gatekeeper.MANUAL_OPEN`, ``RELAY_TEST``,
#: ``REMOTE_COMMAND``), written out so that the web process does not import the pipeline
OPENING_REASONS = ("manual_open", "relay_test", "remote_command")


def spreadsheet_safe(value):
    """A CSV cell that a spreadsheet will not run as a formula (labels are typed by people)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def confidence_arg(text: str) -> float | None:
    """A *Confidence below* field: ``None`` if empty; a number in (0, 1], else a 400 answer."""
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        abort(400, "Confidence below: a number from 0 to 1.")
    return value


def user_name() -> str:
    return f"web:{g.user}"


def openings(console: Console, n: int) -> list[dict]:
    """The last *n* openings on request (manual opens, relay tests, site commands): events in
    the daemon's journal, as rows like the audit trail's (ts, user, action, target, detail)."""
    events = console.call("events_search", reasons=list(OPENING_REASONS), limit=n)["events"]
    return [{"ts": e["ts"], "user": (e.get("extra") or {}).get("requested_by") or "", "action": e["reason"],
             "target": e.get("plate"), "detail": {"note": (e.get("extra") or {}).get("note")}, "event": e["id"]}
            for e in events]


def flash(kind: str, text: str) -> None:
    g.session.flashes.append((kind, text))


def register(app: Flask, console: Console) -> None:
    @app.context_processor
    def common():
        flashes = []
        if getattr(g, "session", None) is not None:
            flashes, g.session.flashes = g.session.flashes, []
        csrf = g.session.csrf if getattr(g, "session", None) else ""
        return {"user": getattr(g, "user", None), "csrf": csrf, "flashes": flashes, "nav": request.endpoint}

    # -- dashboard --------------------------------------------------------------
    @app.get("/")
    def dashboard():
        status = console.call("status")
        recent = console.call("events_search", limit=10)["events"]
        since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=TO_CHECK_DAYS)).isoformat()
        to_check = len(console.call("events_search", unchecked=True, below=float(CHECK_BELOW), since=since,
                                    limit=TO_CHECK_SHOWN + 1)["events"])
        return render_template("dashboard.html", s=status, events=recent, to_check=to_check,
                               to_check_shown=TO_CHECK_SHOWN, to_check_days=TO_CHECK_DAYS)

    @app.get("/status.json")
    def status_json():
        return console.call("status")

    # -- live view --------------------------------------------------------------
    @app.get("/live")
    def live():
        roi = console.call("live")["motion_roi"]
        return render_template("live.html", roi=roi)

    @app.get("/live.json")
    def live_json():
        return console.call("live")

    @app.post("/live/roi")
    def live_roi():
        try:
            roi = {k: float(request.form[k]) for k in ("x1", "y1", "x2", "y2")}
            console.call("set_roi", user=user_name(), **roi)
        except (KeyError, ValueError):
            flash("error", "Draw the region on the picture first.")
        except DaemonRefused as exc:  # the schema's message
            flash("error", f"Region not saved: {exc}")
        else:
            flash("ok", "Motion region saved; it applies from the next frame.")
        return redirect(url_for("live"))

    # -- events -----------------------------------------------------------------
    def search_args() -> dict:
        args = {"plate": request.args.get("plate", ""), "decision": request.args.get("decision", "")}
        try:
            args["since"] = console.to_utc(request.args.get("from", ""))
            args["until"] = console.to_utc(request.args.get("to", ""))
        except ValueError:
            abort(400, "From/to: not a date and time.")
        if args["decision"] not in ("", "granted", "denied", "unknown"):
            abort(400, "Decision: granted, denied or unknown.")
        below = confidence_arg(request.args.get("below", ""))
        if below is not None:
            args["below"] = below
        if request.args.get("unchecked"):
            args["unchecked"] = True
        return args

    @app.get("/events")
    def events():
        args = search_args()
        page = max(1, request.args.get("page", 1, type=int))
        rows = console.call("events_search", limit=PAGE + 1, offset=(page - 1) * PAGE, **args)["events"]
        qs = {k: v for k, v in request.args.items() if k != "page"}
        return render_template("events.html", events=rows[:PAGE], more=len(rows) > PAGE, page=page, q=request.args,
                               qs=qs)

    @app.get("/events.csv")
    def events_csv():
        rows = console.call("events_search", limit=5000, **search_args())["events"]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(EVENT_CSV_COLUMNS)
        for r in rows:
            writer.writerow([json.dumps(r.get(c)) if c == "candidates" else spreadsheet_safe(r.get(c))
                             for c in EVENT_CSV_COLUMNS])
        name = f"plategate-{console.cfg.gate_id}-events.csv"
        return Response(out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    def check_below() -> str:
        """The ``below`` of the reads to check: ``CHECK_BELOW`` unless the page says another, "" for any."""
        below = request.values.get("below", CHECK_BELOW)
        confidence_arg(below)
        return below

    @app.get("/check")
    def check():
        """The newest event with a plate crop nobody has read yet (older than ``until`` when
        skipping), below ``below``: the queue of reads to check, one page at a time."""
        below = check_below()
        args = {"unchecked": True, "limit": 1, "until": request.args.get("until", type=float)}
        if below:
            args["below"] = float(below)
        rows = console.call("events_search", **args)["events"]
        if not rows:
            flash("ok", "No reads left to check" + (f" below {below}." if below else "."))
            return redirect(url_for("events", unchecked=1, below=below))
        return redirect(url_for("event", event_id=rows[0]["id"], check=1, below=below))

    @app.get("/events/<event_id>")
    def event(event_id: str):
        try:
            row = console.call("event", id=event_id)
        except DaemonRefused:
            abort(404, f"No event with id {event_id}.")
        queue = {"below": check_below()} if request.args.get("check") else None
        return render_template("event.html", e=row, has_crop=bool(row.get("crop_path")),
                               has_frame=bool(row.get("frame_path")), queue=queue)

    @app.post("/events/<event_id>/text")
    def event_text(event_id: str):
        try:
            text = "" if request.form.get("unreadable") else request.form.get("text", "")
            saved = console.call("event_text", id=event_id, text=text, user=user_name())
        except DaemonRefused as exc:
            flash("error", str(exc))
        else:
            flash("ok", f"Plate text {saved['checked_text'] or '(unreadable)'} saved: platectl events crops takes it "
                        "for teaching the reader.")
            if request.form.get("check"):
                return redirect(url_for("check", below=check_below()))
        if request.form.get("check"):
            return redirect(url_for("event", event_id=event_id, check=1, below=check_below()))
        return redirect(url_for("event", event_id=event_id))

    @app.get("/events/<event_id>/<kind>.jpg")
    def event_image(event_id: str, kind: str):
        if kind not in ("crop", "frame"):
            abort(404)
        try:
            data = console.call("event_image", id=event_id, kind=kind)
        except DaemonRefused as exc:
            abort(404, str(exc))
        return Response(base64.b64decode(data["jpeg_b64"]), mimetype="image/jpeg",
                        headers={"Cache-Control": "private, max-age=86400"})

    # -- allowlist --------------------------------------------------------------
    def site_banner(state: dict) -> bool:
        return state.get("origin") == "site" and console.cfg.mqtt.enabled and bool(console.cfg.mqtt.site_public_keys)

    @app.get("/allowlist")
    def allowlist():
        data = console.call("allowlist_list")
        q = "".join(c for c in request.args.get("q", "").upper() if c.isalnum() or c == " ")
        entries = data["entries"]
        if q:
            entries = [e for e in entries if q.replace(" ", "") in e["plate"] or q.lower() in e["label"].lower()]
        edit = None
        if request.args.get("edit"):
            edit = next((e for e in data["entries"] if e["plate"] == request.args["edit"]), None)
        return render_template("allowlist.html", state=data, entries=entries, q=request.args.get("q", ""),
                               readonly=site_banner(data), edit=edit)

    @app.post("/allowlist")
    def allowlist_save():
        f = request.form
        entry = {"plate": f.get("plate", ""), "label": f.get("label", ""), "kind": f.get("kind", "allow"),
                 "valid_from": f.get("valid_from") or None, "valid_until": f.get("valid_until") or None,
                 "windows": [w.strip() for w in f.get("windows", "").replace("\n", ";").split(";") if w.strip()]}
        original = f.get("original", "")
        try:
            console.call("allowlist_add", user=user_name(), source="web", **entry)
            if original and original != "".join(c for c in entry["plate"].upper() if c.isalnum()):
                console.call("allowlist_remove", plate=original, user=user_name(), source="web")
        except DaemonRefused as exc:  # the daemon's message goes back to the form
            return render_template("allowlist_form.html", entry=entry, original=original, error=str(exc)), 400
        flash("ok", f"{entry['plate'].upper()} saved.")
        return redirect(url_for("allowlist", q=""))

    @app.post("/allowlist/<plate>/delete")
    def allowlist_delete(plate: str):
        try:
            result = console.call("allowlist_remove", plate=plate, user=user_name(), source="web")
        except DaemonRefused as exc:
            flash("error", str(exc))
        else:
            flash("ok" if result["removed"] else "error", f"{plate} removed." if result["removed"]
                  else f"{plate} was not in the list.")
        return redirect(url_for("allowlist"))

    # -- relay ------------------------------------------------------------------
    @app.get("/relay")
    def relay():
        status = console.call("status")
        rows = openings(console, 20)
        return render_template("relay.html", s=status, rows=rows, pulse_ms=console.cfg.gate.relay.pulse_ms)

    @app.post("/relay/open")
    def relay_open():
        reason = request.form.get("reason", "").strip()
        if not reason:
            flash("error", "Give a reason for opening the gate: it is journaled with your name.")
            return redirect(url_for("relay"))
        console.call("open", reason=reason, user=user_name(), plate=request.form.get("plate") or None)
        flash("ok", f"Gate opened ({reason}).")
        return redirect(url_for("relay"))

    @app.post("/relay/test")
    def relay_test():
        ms = request.form.get("ms", type=int) or console.cfg.gate.relay.pulse_ms
        try:
            console.call("test_relay", ms=ms, user=user_name())
        except DaemonRefused as exc:
            flash("error", str(exc))
        else:
            flash("ok", f"Relay pulsed for {ms} ms.")
        return redirect(url_for("relay"))

    # -- activity and settings --------------------------------------------------
    @app.get("/activity")
    def activity():
        rows = console.call("audit", n=200)["rows"] + openings(console, 200)
        rows.sort(key=lambda r: r["ts"], reverse=True)
        return render_template("activity.html", rows=rows[:200])

    @app.get("/settings")
    def settings():
        data = console.call("config_show")
        sections = {k: v for k, v in data["config"].items() if isinstance(v, dict | list)}
        top = {k: v for k, v in data["config"].items() if not isinstance(v, dict | list)}
        return render_template("settings.html", path=data["path"], top=top, sections=sections,
                               overrides=data.get("overrides") or {}, overrides_path=data.get("overrides_path"))
