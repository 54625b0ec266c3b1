"""plategate-web: the web console.

A separate process that serves server-rendered pages and talks to plategated only
through its control socket (:class:`plategate.control_client.ControlClient`), so
that nothing on the web side can hold the relay or the databases.
"""
