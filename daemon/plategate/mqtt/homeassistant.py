"""Home Assistant MQTT discovery: the gate appears as one device with

- an ``image`` entity showing the last plate crop (retained JPEG on ``<gate>/snapshot``);
- an ``event`` entity that fires once per decision (event type granted / denied / unknown,
  with plate, reason, label and confidence as attributes);
- sensors for the last plate and decision, the gate state, the relay, the camera and the
  pipeline (problem sensors), connectivity and the allowlist version;
- an "Open" button, only when unsigned commands are allowed on a trusted local broker
  (``mqtt.allow_unsigned_commands``: off by default; anyone who can publish on the broker
  can then open the gate).

Discovery messages are retained under ``<homeassistant_prefix>/<component>/<node>/<object>/config``.
"""

from __future__ import annotations

import json

from .. import __version__
from .topics import Topics

#: renders an event payload as Home Assistant's event entity wants it: a JSON object whose
#: ``event_type`` is the decision, the rest becoming the event's attributes
EVENT_TEMPLATE = ('{"event_type": {{ value_json.decision | tojson }}, "plate": {{ value_json.plate | tojson }}, '
                  '"reason": {{ value_json.reason | tojson }}, "label": {{ value_json.label | tojson }}, '
                  '"confidence": {{ value_json.confidence | tojson }}, "id": {{ value_json.id | tojson }}}')


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

    def from_status(expr: str) -> str:  # the status carries health only once the daemon has reported it
        return "{% if value_json.health is defined %}" + expr + "{% endif %}"

    msgs += [
        cfg("image", "last_plate_image", {
            "name": "Last plate image", "image_topic": topics.last_snapshot, "content_type": "image/jpeg",
            "icon": "mdi:car-info"}),
        cfg("event", "decision", {
            "name": "Decision", "state_topic": topics.event, "event_types": ["granted", "denied", "unknown"],
            "value_template": EVENT_TEMPLATE, "icon": "mdi:boom-gate"}),
        cfg("sensor", "gate_state", {
            "name": "Gate", "state_topic": topics.status,
            "value_template": from_status("{{ value_json.health.relay.state }}"), "icon": "mdi:boom-gate"}),
        cfg("binary_sensor", "relay", {
            "name": "Relay", "state_topic": topics.status, "payload_on": "ON", "payload_off": "OFF",
            "value_template": from_status("{{ 'ON' if value_json.health.relay.relay_energised else 'OFF' }}"),
            "icon": "mdi:electric-switch"}),
        cfg("binary_sensor", "camera_problem", {
            "name": "Camera", "state_topic": topics.status, "device_class": "problem", "payload_on": "ON",
            "payload_off": "OFF", "entity_category": "diagnostic",
            "value_template": from_status("{{ 'OFF' if value_json.health.camera.state == 'ok' else 'ON' }}")}),
        cfg("binary_sensor", "pipeline_problem", {
            "name": "Recognition", "state_topic": topics.status, "device_class": "problem", "payload_on": "ON",
            "payload_off": "OFF", "entity_category": "diagnostic",
            "value_template": "{% if value_json.pipeline_alive is defined %}"
                              "{{ 'OFF' if value_json.pipeline_alive else 'ON' }}{% endif %}"}),
    ]
    return msgs
