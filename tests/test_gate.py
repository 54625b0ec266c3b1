"""Relays and inputs on gpiozero's MockFactory and pyserial's loop://; the gate state machine."""

from __future__ import annotations

import time

import pytest
import serial
from gpiozero.pins.mock import MockFactory

from plategate.config import parse_config
from plategate.errors import GateError
from plategate.gate import GateController, SerialRelay, create_inputs, create_relay, make_pin_factory


@pytest.fixture
def factory():
    f = MockFactory()
    yield f
    f.reset()


def gate_cfg(**relay):
    return parse_config({"gate": {"relay": relay, "loop_detector": {"enabled": True, "bounce_ms": 0}}}).gate


def high_periods(pin):
    """Durations of the high periods of a gpiozero MockPin (each state's timestamp is the
    time since the previous change)."""
    return [st.timestamp for prev, st in zip(pin.states, pin.states[1:], strict=False) if prev.state and not st.state]


def test_relay_starts_deenergised_and_pulses_for_the_configured_length(factory):
    cfg = gate_cfg(pin=17, pulse_ms=200)
    relay = create_relay(cfg.relay, factory)
    pin = factory.pin(17)
    assert pin.state is False
    relay.pulse(200)
    assert pin.state is True
    deadline = time.monotonic() + 5.0
    while pin.state and time.monotonic() < deadline:
        time.sleep(0.01)
    periods = high_periods(pin)
    # never shorter than configured; the upper bound only allows for a busy machine's timer slip
    assert len(periods) == 1 and 0.19 <= periods[0] <= 1.0
    relay.close()
    assert pin.state is False


def test_active_low_relay(factory):
    relay = create_relay(gate_cfg(pin=5, active_high=False).relay, factory)
    pin = factory.pin(5)
    assert pin.state is True  # de-energised = high for an active-low board
    relay.on()
    assert pin.state is False
    relay.close()
    assert pin.state is True


def test_close_during_a_pulse_leaves_the_relay_off(factory):
    relay = create_relay(gate_cfg(pin=17).relay, factory)
    relay.pulse(5000)
    relay.close()
    assert factory.pin(17).state is False


def test_serial_relay_writes_the_configured_bytes():
    relay = SerialRelay("loop://", 9600, bytes.fromhex("A00101A2"), bytes.fromhex("A00100A1"))
    assert relay.port.read(4) == bytes.fromhex("A00100A1")  # de-energised at start
    relay.pulse(50)
    assert relay.port.read(4) == bytes.fromhex("A00101A2")
    time.sleep(0.15)
    assert relay.port.read(4) == bytes.fromhex("A00100A1")
    relay.close()


def test_serial_relay_on_a_port_that_does_not_exist():
    cfg = parse_config({"gate": {"relay": {"type": "serial", "serial_port": "/dev/ttyNOPE9"}}}).gate
    with pytest.raises(GateError, match="gate.relay.serial_port '/dev/ttyNOPE9'"):
        create_relay(cfg.relay, None)


def test_serial_relay_on_a_pty():
    import os
    import pty
    import select

    master, slave = pty.openpty()
    try:
        relay = SerialRelay(os.ttyname(slave), 9600, b"\x01", b"\x00")
        relay.on()
        relay.close()
        # A pty hands bytes over as they arrive: one read may return only part of them.
        received = b""
        deadline = time.monotonic() + 5.0
        while len(received) < 3 and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                received += os.read(master, 16)
        assert received == b"\x00\x01\x00"
    finally:
        os.close(master)
        os.close(slave)


def test_inputs_debounce_and_report_presence(factory):
    seen = []
    cfg = parse_config({"gate": {"loop_detector": {"enabled": True, "pin": 27, "bounce_ms": 0}}}).gate
    inputs = create_inputs(cfg, factory, lambda name, present: seen.append((name, present)))
    pin = factory.pin(27)
    pin.drive_low()  # pulled up: contact to ground = vehicle
    assert inputs["loop_detector"].is_active
    pin.drive_high()
    assert seen == [("loop_detector", True), ("loop_detector", False)]


def test_hold_mode_keeps_the_gate_open_while_occupied(factory):
    cfg = parse_config({"gate": {"relay": {"mode": "hold", "hold_max_s": 0.2},
                                 "loop_detector": {"enabled": True, "bounce_ms": 0}}}).gate
    actions = []
    gate = GateController(create_relay(cfg.relay, factory), cfg.relay, lambda a, d: actions.append(a))
    inputs = create_inputs(cfg, factory, gate.set_presence)
    gate.open("exact_match", "AB12CDE")
    factory.pin(27).drive_low()
    time.sleep(0.5)  # past hold_max_s, but the vehicle is still on the loop
    assert factory.pin(17).state is True and gate.state == "holding"
    factory.pin(27).drive_high()
    assert factory.pin(17).state is False and gate.state == "idle"
    assert actions[:2] == ["open", "presence"] and "release" in actions
    inputs["loop_detector"].close()
    gate.close()


def test_pin_factory_errors_are_clear():
    with pytest.raises(GateError, match='pin_factory = "mock"'):
        make_pin_factory("native") if not _on_a_pi() else pytest.skip("a real Pi")


def _on_a_pi() -> bool:
    try:
        with open("/proc/device-tree/model") as fh:
            return "Raspberry" in fh.read()
    except OSError:
        return False


def test_relay_pin_already_in_use(factory):
    first = create_relay(gate_cfg(pin=17).relay, factory)
    with pytest.raises(GateError, match="gate.relay.pin 17"):
        create_relay(gate_cfg(pin=17).relay, factory)
    first.close()


def test_serial_loop_url_is_real_pyserial():
    port = serial.serial_for_url("loop://", timeout=0.1)
    port.write(b"x")
    assert port.read(1) == b"x"
