"""wogate_plugin: write wogate plugins in Python.

    import wogate_plugin as wp

    class Ticketing(wp.Plugin):
        name = "ticketing"
        schema = wp.Schema([wp.Field("priorities", wp.STRING_LIST, required=True)])

        def configure(self, config, host, instance_name):
            self.priorities = set(config["priorities"])

        def handle_event(self, event):
            return [wp.accept(event.work_order_id)]

    if __name__ == "__main__":
        wp.serve(Ticketing())

See sdk/python/README.md for what the SDK supports.
"""

from ._api import (KINDS, Action, Event, Header, Host, NotFound, Plugin, PluginError, accept,
                   message, note, reject)
from ._schema import (ANY, BOOL, DURATION, FLOAT, INT, STRING, STRING_LIST, STRING_MAP, ConfigError,
                      Field, Schema)
from ._log import log
from ._server import PROTOCOL_VERSION, SDK_VERSION, serve

__all__ = [
    "KINDS", "Action", "Event", "Header", "Host", "NotFound", "Plugin", "PluginError", "accept",
    "message", "note", "reject", "ANY", "BOOL", "DURATION", "FLOAT", "INT", "STRING", "STRING_LIST",
    "STRING_MAP", "ConfigError", "Field", "Schema", "PROTOCOL_VERSION", "SDK_VERSION", "log", "serve",
]
