"""Gate I/O: relay outputs (gpiozero, serial boards), vehicle inputs and the gate state machine."""

from .controller import GateController, GateState
from .inputs import VehicleInput, create_inputs
from .pins import make_pin_factory
from .relay import GpioRelay, NullRelay, Relay, SerialRelay, create_relay

__all__ = ["GateController", "GateState", "GpioRelay", "NullRelay", "Relay", "SerialRelay", "VehicleInput",
           "create_inputs", "create_relay", "make_pin_factory"]
