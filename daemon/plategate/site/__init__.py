"""plategate-site: the site's side of the sync.

It keeps the site's master allow/blocklist (:mod:`.master`), signs and publishes full
snapshots and deltas with the site key (:mod:`.messages`), answers every gate's
``allowlist/request``, and collects every gate's events and status into its own
database (:mod:`.fleet`) through a persistent MQTT session (:mod:`.service`). The
command line is :mod:`.cli` (``plategate-site``).
"""
