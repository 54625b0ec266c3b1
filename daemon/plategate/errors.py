"""The exception hierarchy: every error plategate raises derives from :class:`PlategateError`."""


class PlategateError(Exception):
    """Root of all plategate errors."""


class ConfigError(PlategateError):
    """The configuration is malformed; the message names the key path."""


class ModelError(PlategateError):
    """A model file is missing, truncated, tampered with or unusable."""


class ImageError(PlategateError):
    """An image cannot be read or decoded."""


class CameraError(PlategateError):
    """A camera cannot be opened or stopped delivering frames."""


class GateError(PlategateError):
    """A relay or input device cannot be driven."""


class StorageError(PlategateError):
    """The journal, outbox or allowlist store cannot be written or read."""


class AccessError(PlategateError):
    """An allowlist entry, snapshot or delta is invalid."""


class SignatureError(AccessError):
    """A signed message is unsigned, badly signed, replayed or stale."""


class MqttError(PlategateError):
    """The MQTT client cannot be configured or connected."""


class ControlError(PlategateError):
    """The local control socket cannot be reached or refused the request."""
