#!/usr/bin/env python3
"""A plugin for the SDK's process tests: accepts every work order, counts
events in the host's KV store when the host offers one, and answers an
unknown action kind for work order 666 (a malformed answer)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import wogate_plugin as wp  # noqa: E402
from wogate_plugin._proto import pb  # noqa: E402


class KV(wp.Plugin):
    name = "kv-test"
    version = "0.1.0"
    schema = wp.Schema([wp.Field("greeting", wp.STRING, default="hello")])

    def configure(self, config, host, instance_name):
        self.host = host
        self.greeting = config["greeting"]

    def handle_event(self, event):
        if event.work_order_id == 666:
            return [pb.Action(kind=99, work_order_id=666)]
        if self.host.available:
            n = int(self.host.kv_get("count") or b"0") + 1
            self.host.kv_put("count", str(n))
            return [wp.note(event.work_order_id, "%s %d" % (self.greeting, n))]
        return [wp.accept(event.work_order_id, self.greeting)]


if __name__ == "__main__":
    wp.serve(KV())
