"""The web console in a real headless chromium, against a running daemon.

The daemon is the real plategated Service with the shipped models on rendered replay
footage (looping) and gpiozero's MockFactory pins; plategate-web is the real cheroot
server talking to it over the control socket. The browser logs in, sees the live frame,
adds the denied car to the allowlist and sees the next pass of that car granted, finds
that event with its snapshot, exports CSV, opens the gate with a reason and finds the
journaled record; a wrong password, a missing CSRF token and an expired session are refused.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from cli_support import cleanup, short_dir
from gpiozero.pins.mock import MockFactory
from web_support import chromium_driver, screenshot, wait_for
from webhook_receiver import Receiver

from plategate.cli.main import main as platectl
from plategate.config import parse_config
from plategate.pipeline import BurstResult
from plategate.types import PlateRead
from tools import make_demo

pytest.importorskip("flask", reason="the web extra is not installed")
pytest.importorskip("argon2", reason="the web extra is not installed")
service_mod = pytest.importorskip("plategate.service")
pytest.importorskip("plategate.vision.recognizer")

from plategate.web.auth import set_password  # noqa: E402
from plategate.web.server import WebServer  # noqa: E402

PASSWORD = "correct horse battery"
LISTED, UNLISTED = make_demo.VEHICLES[0], make_demo.VEHICLES[1]  # AB12CDE (allowed), KX934PL (not listed)
SHOTS = Path(__file__).resolve().parent.parent / "work" / "screenshots"


@pytest.fixture(scope="module")
def gate():
    """A running daemon on looping footage of a listed and an unlisted car, and the web console."""
    root = short_dir()
    footage = root / "footage"
    make_demo.render(footage, fps=10.0, seed=3, vehicles=(LISTED, UNLISTED))
    receiver = Receiver(b"webhook-secret-value")  # down until the test brings it up
    allowlist = root / "allowlist.csv"
    allowlist.write_text("plate,label,kind\nAB12CDE,Flat 3 - A. Resident,allow\nZZ999ZZ,Banned,block\n")
    cfg = parse_config({
        "site_id": "demo", "gate_id": "north",
        "state_dir": str(root / "state"),
        "camera": {"backend": "replay", "source": str(footage), "fps": 20, "loop": True, "realtime": True},
        "motion": {"roi": {"x1": 0.15, "y1": 0.35, "x2": 0.85, "y2": 1.0}, "burst_frames": 3,
                   "burst_interval_ms": 40},
        "access": {"allowlist_file": str(allowlist), "holdoff_s": 5},
        "gate": {"pin_factory": "mock", "relay": {"pin": 17, "pulse_ms": 200}},
        "control": {"socket": str(root / "control.sock"), "group": ""},
        "mqtt": {"password": "hunter2-secret"},
        "webhooks": [{"url": receiver.url, "secret": "webhook-secret-value", "name": "erp", "retry_min_s": 0.2,
                      "retry_max_s": 1.0}],
        "web": {"password_file": str(root / "web.passwd"), "port": 8080},
    })
    set_password(cfg.web.password_file, "alice", PASSWORD)
    factory = MockFactory()
    service = service_mod.Service(cfg, pin_factory=factory)
    service.start()
    runner = threading.Thread(target=service.run, kwargs={"duration": 600}, daemon=True)
    runner.start()
    web = WebServer(cfg, port=0)
    web.start()
    yield {"cfg": cfg, "service": service, "factory": factory, "web": web, "url": web.url.rstrip("/"),
           "receiver": receiver}
    web.stop()
    receiver.down()
    service.request_stop()
    runner.join(15)
    service.stop()
    cleanup(root)


@pytest.fixture(scope="module")
def browser():
    yield from chromium_driver()


def login(driver, url: str, user: str = "alice", password: str = PASSWORD) -> None:
    driver.get(url + "/login")
    driver.find_element("id", "user").send_keys(user)
    driver.find_element("id", "password").send_keys(password)
    driver.find_element("id", "login").click()


def fetch(driver, path: str, method: str = "GET", body: str | None = None) -> dict:
    """The status and text of a same-origin request made by the page (with its cookies)."""
    return driver.execute_async_script("""
        const [path, method, body, done] = arguments;
        const opts = {method: method, credentials: 'same-origin', redirect: 'manual'};
        if (body !== null) { opts.body = body; opts.headers = {'Content-Type': 'application/x-www-form-urlencoded'}; }
        fetch(path, opts).then(r => r.text().then(t => done({status: r.status, text: t})))
                         .catch(e => done({status: -1, text: String(e)}));""", path, method, body)


def search_events(gate: dict, plate: str, decision: str = "") -> list[dict]:
    return gate["web"].app.extensions["plategate"].client.call("events_search", plate=plate,
                                                               decision=decision)["events"]


def test_console_end_to_end(gate, browser):
    url, driver = gate["url"], browser

    # Not logged in: every page leads to the login form.
    driver.get(url + "/events")
    assert driver.current_url.startswith(url + "/login")
    screenshot(driver, "login", SHOTS)

    # A wrong password is refused.
    login(driver, url, password="wrong password")
    error = wait_for(lambda: driver.find_elements("id", "login-error"), what="the login error")[0]
    assert "Wrong user name or password" in error.text
    assert driver.current_url.startswith(url + "/login")

    # The right one opens the dashboard.
    login(driver, url)
    wait_for(lambda: driver.current_url.rstrip("/") == url, what="the dashboard after login")
    assert "Dashboard" in driver.find_element("tag name", "h1").text
    body = driver.find_element("tag name", "body").text
    assert "Gate" in body and "Camera" in body and "Webhook erp" in body and "MB free" in body

    # The live view shows a camera frame with the ROI drawn over it.
    driver.get(url + "/live")
    wait_for(lambda: driver.find_element("id", "live-frame").get_attribute("data-loaded") == "1",
             what="a live frame")
    width = driver.execute_script("return document.getElementById('live-frame').naturalWidth")
    assert width == 1280
    assert float(driver.find_element("id", "roi").get_attribute("width")) == pytest.approx(0.7)
    # While a car is read, the frame the pipeline analysed is shown with its plate boxes.
    seen = wait_for(lambda: driver.execute_script(
        "var l = document.querySelector('#labels .plate-label'), r = document.querySelector('#plates rect.box');"
        "return l && r ? [l.textContent, parseFloat(r.getAttribute('width')), "
        "document.getElementById('live-info').textContent] : null;"), timeout=60, what="a plate box on the live view")
    assert re.fullmatch(r"[0-9A-Z]{4,10} \d{1,3} %", seen[0]) and 0 < seen[1] < 0.5, seen
    assert seen[2].startswith("analysed frame"), seen
    assert not driver.find_element("id", "roi-save").is_displayed()
    screenshot(driver, "live", SHOTS)

    # Draw a new motion region on the frame and save it: the daemon applies and keeps it.
    from selenium.webdriver.common.action_chains import ActionChains

    driver.find_element("id", "roi-edit").click()
    overlay = driver.find_element("id", "overlay")
    w, h = overlay.size["width"], overlay.size["height"]
    ActionChains(driver).move_to_element_with_offset(overlay, int((0.10 - 0.5) * w), int((0.30 - 0.5) * h)) \
        .click_and_hold().move_by_offset(int(0.4 * w), int(0.3 * h)) \
        .move_to_element_with_offset(overlay, int((0.90 - 0.5) * w), int((0.98 - 0.5) * h)).release().perform()
    driver.find_element("id", "roi-save").click()
    wait_for(lambda: driver.find_elements("css selector", ".flash.ok"), what="the saved region")
    roi = gate["service"].cfg.motion.roi
    assert (roi.x1, roi.y1, roi.x2, roi.y2) == pytest.approx((0.10, 0.30, 0.90, 0.98), abs=0.01)
    assert gate["service"].capture.motion.cfg.roi == roi
    saved = json.loads((gate["cfg"].state_dir / "overrides.json").read_text())
    assert saved["motion"]["roi"]["x1"] == pytest.approx(0.10, abs=0.01)
    assert float(driver.find_element("id", "roi").get_attribute("x")) == pytest.approx(0.10, abs=0.01)

    # The unlisted car is denied on its first pass.
    wait_for(lambda: search_events(gate, UNLISTED.plate, "denied"), timeout=90, what=f"{UNLISTED.plate} denied")
    driver.get(url + "/events?plate=" + UNLISTED.plate[:4])
    rows = driver.find_elements("css selector", "table.events tbody tr")
    assert rows and all(UNLISTED.plate[:4] in r.text for r in rows)
    assert "Denied" in driver.find_element("css selector", "table.events").text or \
        "denied" in driver.find_element("css selector", "table.events").text.lower()

    # Add it to the allowlist from the console.
    driver.get(url + "/allowlist")
    driver.find_element("id", "f-plate").send_keys(UNLISTED.plate.lower())
    driver.find_element("id", "f-label").send_keys("Visitor - Flat 12")
    driver.find_element("id", "f-windows").send_keys("daily 00:00-24:00")
    added_at = time.time()
    driver.find_element("id", "f-save").click()
    wait_for(lambda: driver.find_elements("css selector", f"tr[data-plate='{UNLISTED.plate}']"),
             what="the new allowlist row")
    assert f"{UNLISTED.plate} saved" in driver.find_element("css selector", ".flash.ok").text
    assert gate["service"].store.get(UNLISTED.plate).label == "Visitor - Flat 12"
    screenshot(driver, "allowlist", SHOTS)

    gate["receiver"].up()  # the webhook receiver comes back after being down since the start

    # Edit an entry's name, and remove another (the browser asks first).
    driver.find_element("css selector", "tr[data-plate='AB12CDE'] a.button").click()
    wait_for(lambda: "edit=AB12CDE" in driver.current_url
             and driver.find_element("id", "f-plate").get_attribute("value") == "AB12CDE", what="the edit form")
    label = driver.find_element("id", "f-label")
    label.clear()
    label.send_keys("+44 7700 900123 (Flat 3)")  # a phone number: a formula to a spreadsheet
    driver.find_element("id", "f-save").click()
    wait_for(lambda: gate["service"].store.get("AB12CDE").label == "+44 7700 900123 (Flat 3)", what="the edit")
    wait_for(lambda: "AB12CDE saved" in driver.find_element("tag name", "body").text, what="the list again")
    driver.find_element("css selector", "tr[data-plate='ZZ999ZZ'] button.danger").click()
    driver.switch_to.alert.accept()
    wait_for(lambda: gate["service"].store.get("ZZ999ZZ") is None, what="the removal")
    wait_for(lambda: "ZZ999ZZ removed" in driver.find_element("tag name", "body").text, what="the removal message")
    actions = [(r["action"], r["target"]) for r in gate["service"].audit.recent(10)]
    assert ("allowlist_edit", "AB12CDE") in actions and ("allowlist_remove", "ZZ999ZZ") in actions

    # The next pass of that car is granted and opens the gate.
    def granted():
        return [e for e in search_events(gate, UNLISTED.plate, "granted") if e["opened"]
                and e["time"] >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(added_at))]

    event = wait_for(granted, timeout=120, what=f"{UNLISTED.plate} granted after it was added")[0]
    assert event["reason"] in ("exact_match", "tolerant_match")

    # Find it in the console by a partial plate and the decision, with its snapshot.
    driver.get(url + "/events")
    driver.find_element("id", "q-plate").send_keys(UNLISTED.plate[2:5])
    driver.find_element("css selector", "select[name=decision] option[value=granted]").click()
    driver.find_element("id", "search").click()
    wait_for(lambda: "decision=granted" in driver.current_url, what="the search")
    screenshot(driver, "events", SHOTS)
    driver.find_element("css selector", f"table.events a.plate[href='/events/{event['id']}']").click()
    wait_for(lambda: driver.find_elements("id", "crop"), what="the event page")
    record = driver.find_element("id", "record").text
    assert event["id"] in record and ("exact match" in record or "tolerant match" in record)
    assert driver.execute_script("return document.getElementById('crop').naturalWidth") > 20
    assert driver.execute_script("return document.getElementById('frame').naturalWidth") == 1280
    screenshot(driver, "event", SHOTS)

    # A person says what the plate shows; platectl events crops takes that text.
    box = driver.find_element("id", "text")
    assert box.get_attribute("value") == event["plate"] and "Not checked yet" in driver.page_source
    box.clear()
    box.send_keys("kx 934-pl")
    driver.find_element("id", "save-text").click()
    wait_for(lambda: "Plate text KX934PL saved" in driver.page_source, what="the saved plate text")
    assert driver.find_element("id", "text").get_attribute("value") == "KX934PL"
    assert "Checked by web:alice" in driver.page_source
    screenshot(driver, "event-checked", SHOTS)
    box = driver.find_element("id", "text")
    box.clear()
    box.send_keys("KX@934")
    driver.find_element("id", "save-text").click()
    wait_for(lambda: "is not a plate" in driver.page_source, what="the refused plate text")
    assert driver.find_element("id", "text").get_attribute("value") == "KX934PL"  # the saved one stands
    crops = Path(gate["cfg"].state_dir) / "crops"
    assert platectl(["events", "crops", "-o", str(crops), "--socket", str(gate["cfg"].control.socket),
                     "--since", event["time"]]) == 0
    rows = (crops / "labels.csv").read_text().splitlines()
    assert any(r.startswith(f"{event['id']}.jpg,KX934PL,") and r.endswith(",web:alice") for r in rows)

    # The queue of reads to check: the newest event with a crop nobody has read, one at a time.
    driver.get(url + "/check?below=")
    wait_for(lambda: driver.find_elements("id", "queue"), what="the first read to check")
    first = driver.current_url.split("/events/")[1].split("?")[0]
    assert first != event["id"] and "Save, next" in driver.find_element("id", "save-text").text
    screenshot(driver, "check", SHOTS)
    driver.find_element("id", "skip").click()
    wait_for(lambda: driver.find_elements("id", "queue") and first not in driver.current_url, what="the skipped read")
    second = driver.current_url.split("/events/")[1].split("?")[0]
    box = driver.find_element("id", "text")
    box.clear()
    box.send_keys("AB12CDE")
    driver.find_element("id", "save-text").click()
    wait_for(lambda: "Plate text AB12CDE saved" in driver.page_source, what="the read saved from the queue")
    assert driver.find_elements("id", "queue") and second not in driver.current_url  # on to the next one
    third = driver.current_url.split("/events/")[1].split("?")[0]
    driver.find_element("id", "unreadable").click()  # whatever the box holds
    wait_for(lambda: "Plate text (unreadable) saved" in driver.page_source, what="the unreadable mark")
    assert gate["service"].audit.latest("plate_text", [third])[third]["detail"] == {"text": ""}
    assert gate["service"].audit.latest("plate_text", [second])[second]["detail"] == {"text": "AB12CDE"}
    driver.get(url + "/events?unchecked=1")
    listed_ids = {a.get_attribute("href").rsplit("/", 1)[1]
                  for a in driver.find_elements("css selector", "table.events a.plate")}
    assert not {second, third, event["id"]} & listed_ids and (first in listed_ids or first == third)
    screenshot(driver, "events-unchecked", SHOTS)
    driver.get(url + f"/events?plate={UNLISTED.plate}")
    assert "✓ KX934PL" in driver.find_element("css selector", "table.events").text  # the checked text is shown
    assert "Confidence below: a number" in fetch(driver, "/events?below=2")["text"]
    # The dashboard counts the unsure reads of the last days nobody checked and leads to them.
    now = time.time()
    read = PlateRead(text="KX934P", confidence=0.42, candidates=(("KX934P", 0.42),))
    unsure_event = gate["service"].keeper.handle(BurstResult(
        burst_id=9999, source="test", read=read, reads=[read], frames_used=1, trigger_time=time.monotonic(),
        decided_time=time.monotonic(), crop=np.full((40, 160, 3), 200, np.uint8)))  # as a burst's unsure read
    driver.get(url + "/")
    shown = driver.find_element("id", "tile-check").text
    week = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 7 * 86400))
    unsure = gate["web"].app.extensions["plategate"].client.call(
        "events_search", unchecked=True, below=0.9, since=week, limit=100)["events"]
    count = re.search(r"reads to check\n(\d+)", shown, re.I)
    assert count and int(count.group(1)) == len(unsure) >= 1, (shown, len(unsure))
    driver.find_element("css selector", "#tile-check a").click()
    wait_for(lambda: unsure_event["id"] in driver.current_url, what="the unsure read from the dashboard")

    # A time range in the future finds nothing; one around now finds the event.
    driver.get(url + "/events?from=2099-01-01T00:00")
    assert "No events." in driver.find_element("css selector", "table.events").text
    driver.get(url + f"/events?plate={UNLISTED.plate}&from={time.strftime('%Y-%m-%dT%H:%M', time.gmtime(added_at - 60))}")
    assert UNLISTED.plate in driver.find_element("css selector", "table.events").text

    # CSV export of the same search.
    csv_text = fetch(driver, f"/events.csv?plate={UNLISTED.plate}&decision=granted")
    assert csv_text["status"] == 200
    lines = csv_text["text"].strip().splitlines()
    assert lines[0].startswith("id,time,plate,confidence,decision")
    assert event["id"] in csv_text["text"] and all(UNLISTED.plate in line for line in lines[1:])
    assert lines[0].endswith(",candidates,checked_text,checked_by")
    assert next(line for line in lines if line.startswith(event["id"])).endswith(",KX934PL,web:alice")
    wait_for(lambda: [e for e in search_events(gate, LISTED.plate) if (e["label"] or "").startswith("+44")],
             timeout=60, what=f"an event of {LISTED.plate} with its new name")
    listed = fetch(driver, f"/events.csv?plate={LISTED.plate}")["text"]
    assert ",'+44 7700 900123 (Flat 3)," in listed and ",+44" not in listed  # a name is never a formula

    # Open the gate by hand: the relay pulses and the record carries the user.
    pin = gate["factory"].pin(17)
    highs_before = sum(1 for s in pin.states if s.state)
    driver.get(url + "/relay")
    driver.find_element("id", "open-reason").send_keys("Delivery van, plate unreadable")
    driver.find_element("id", "open").click()
    wait_for(lambda: driver.find_elements("css selector", ".flash.ok"), what="the open confirmation")
    wait_for(lambda: sum(1 for s in pin.states if s.state) > highs_before, timeout=5, what="the relay pulse")
    opens = driver.find_element("id", "opens").text
    assert "web:alice" in opens and "Delivery van, plate unreadable" in opens
    screenshot(driver, "gate", SHOTS)
    driver.find_element("id", "pulse").click()
    wait_for(lambda: "Relay pulsed for 200 ms" in driver.find_element("tag name", "body").text, what="the pulse")
    assert "relay test" in driver.find_element("id", "opens").text
    # Both are events in the journal (published like decisions), requested by the user.
    openings = gate["service"].journal.search(reasons=("manual_open", "relay_test"), limit=10)
    assert {(e["reason"], e["extra"]["requested_by"].split(" ")[0], e["extra"]["note"]) for e in openings} == {
        ("manual_open", "web:alice", "Delivery van, plate unreadable"), ("relay_test", "web:alice", "test pulse of 200 ms")}
    driver.get(url + "/events")  # an opening without a plate shows a dash, not "None"
    assert "None" not in driver.find_element("css selector", "table.events").text
    driver.get(url + "/events/" + next(e["id"] for e in openings if e["reason"] == "relay_test"))
    assert driver.find_element("id", "text").get_attribute("value") == ""
    audit = gate["service"].audit.recent(10)
    assert {("web:alice", "allowlist_add"), ("web:alice", "set_roi")} <= {(r["user"], r["action"]) for r in audit}

    # The activity page lists changes and openings; settings show the config with secrets redacted.
    driver.get(url + "/activity")
    text = driver.find_element("id", "activity").text
    assert "allowlist add" in text and UNLISTED.plate in text and "web:alice" in text and "manual open" in text
    driver.get(url + "/settings")
    assert "(redacted)" in driver.page_source
    assert "hunter2-secret" not in driver.page_source and "webhook-secret-value" not in driver.page_source
    assert "motion.roi" in driver.find_element("id", "overrides").text
    screenshot(driver, "settings", SHOTS)
    assert f"127.0.0.1:{gate['receiver'].port}/hooks/plategate" in driver.page_source

    # A POST without the CSRF token, or with a wrong one, is refused and does nothing.
    audit_before = gate["service"].audit.recent(1000)
    openings_before = gate["service"].journal.search(reasons=("manual_open", "relay_test"), limit=100)
    assert fetch(driver, "/relay/open", "POST", "reason=forged")["status"] == 400
    assert fetch(driver, "/relay/open", "POST", "reason=forged&csrf=nope")["status"] == 400
    assert fetch(driver, "/allowlist/AB12CDE/delete", "POST", "")["status"] == 400
    assert gate["service"].audit.recent(1000) == audit_before  # no change (cars still pass)
    assert gate["service"].journal.search(reasons=("manual_open", "relay_test"), limit=100) == openings_before
    assert gate["service"].store.get("AB12CDE") is not None

    # The dashboard, on a desktop and on a phone.
    driver.get(url + "/")
    assert UNLISTED.plate in driver.find_element("css selector", "table.events").text
    screenshot(driver, "dashboard", SHOTS)
    size = driver.get_window_size()
    driver.set_window_size(390, 844)
    driver.get(url + "/")
    screenshot(driver, "dashboard-phone", SHOTS)
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the dashboard is {overflow} px wider than a phone screen"
    driver.set_window_size(size["width"], size["height"])

    # An expired session is refused: the next page asks for the login again.
    sessions = gate["web"].app.extensions["plategate"].sessions
    real_clock = sessions.clock
    sessions.clock = lambda: real_clock() + sessions.idle_s + 1
    try:
        driver.get(url + "/events")
        assert driver.current_url.startswith(url + "/login")
        assert fetch(driver, "/status.json")["status"] == 401
    finally:
        sessions.clock = real_clock
    driver.get(url + "/events")
    assert driver.current_url.startswith(url + "/login")  # the expired session is gone for good

    # Logging out ends the session.
    login(driver, url)
    wait_for(lambda: driver.current_url.rstrip("/") == url, what="the dashboard")
    driver.find_element("css selector", "form.who button").click()
    wait_for(lambda: "/login" in driver.current_url, what="the login page after logout")
    assert json.loads(json.dumps(fetch(driver, "/status.json")))["status"] == 401


def test_webhook_receiver_got_every_event(gate, browser, capsys):
    """Down from the start until the allowlist change, then up: every journaled event arrives, signed."""
    receiver, service = gate["receiver"], gate["service"]
    wait_for(lambda: receiver.received, timeout=30, what="the first webhook")
    journaled = {e["id"] for e in service.journal.recent(10000)}
    wait_for(lambda: journaled <= receiver.ids(), timeout=30,
             what=f"{len(journaled - receiver.ids())} journaled event(s) to reach the receiver")
    assert all(r["valid"] for r in receiver.received)
    status = service.webhooks.status()[0]
    assert status["failures"] >= 1 and status["delivered"] >= len(journaled)
    assert platectl(["status", "--socket", str(gate["cfg"].control.socket)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"webhook erp\s+http://127\.0\.0\.1:\d+/hooks/plategate: \d+ queued, \d+ delivered", out), out
