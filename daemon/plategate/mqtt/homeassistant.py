"""Home Assistant MQTT discovery: the gate appears as a device with its last plate, last
decision, connectivity and allowlist version, and (only when unsigned commands are allowed
on a trusted local broker) an "Open" button.

Discovery messages are retained under ``<homeassistant_prefix>/<component>/<node>/<object>/config``.
"""

from __future__ import annotations

import json

from .. import __version__
from .topics import Topics


def discovery_messages(topics: Topics, ha_prefix: str, allow_unsigned_commands: bool) -> list[tuple[str, bytes]]:
    """``(topic, payload)`` pairs to publish retained.

    The open button is only announced when ``allow_unsigned_commands`` is set: Home Assistant
    cannot sign commands, and an unsigned open is refused otherwise. When it is not set, an
    empty retained payload removes a button announced earlier.
    """
    node = f"plategate_{topics.site}_{topics.gate}"
    device = {
        "identifiers": [node],
        "name": f"plategate {topics.site}/{topics.gate}",
        "manufacturer": "plategate",
        "model": "ANPR gate controller",
        "sw_version": __version__,
    }
    availability = {
        "availability_topic": topics.status,
        "availability_template": "{{ value_json.state }}",
        "payload_available": "online",
        "payload_not_available": "offline",
    }

    def cfg(component: str, obj: str, body: dict) -> tuple[str, bytes]:
        body = {"unique_id": f"{node}_{obj}", "device": device, **availability, **body}
        return f"{ha_prefix}/{component}/{node}/{obj}/config", json.dumps(body, sort_keys=True).encode()

    msgs = [
        cfg("sensor", "last_plate", {
            "name": "Last plate", "state_topic": topics.event, "value_template": "{{ value_json.plate }}",
            "json_attributes_topic": topics.event, "icon": "mdi:car"}),
        cfg("sensor", "last_decision", {
            "name": "Last decision", "state_topic": topics.event, "value_template": "{{ value_json.decision }}",
            "icon": "mdi:gate"}),
        cfg("sensor", "allowlist_version", {
            "name": "Allowlist version", "state_topic": topics.allowlist_state,
            "value_template": "{{ value_json.version }}", "entity_category": "diagnostic"}),
        cfg("binary_sensor", "online", {
            "name": "Online", "state_topic": topics.status, "value_template": "{{ value_json.state }}",
            "payload_on": "online", "payload_off": "offline", "device_class": "connectivity",
            "entity_category": "diagnostic"}),
    ]
    button_topic, button_payload = cfg("button", "open", {
        "name": "Open", "command_topic": topics.cmd, "payload_press": json.dumps({"cmd": "open", "args": {"source": "homeassistant"}}),
        "icon": "mdi:boom-gate-up"})
    msgs.append((button_topic, button_payload if allow_unsigned_commands else b""))
    return msgs
