#!/usr/bin/env python3
"""A plugin for the SDK's process tests and e2e/python_plugin_test.go:
accepts every work order, counts events in the host's KV store when the
host offers one (noting the count), and answers an unknown action kind (a
malformed answer) for work order 666, or for every event with
answer: bad_kind."""

import logging
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import wogate_plugin as wp  # noqa: E402
from wogate_plugin._proto import pb  # noqa: E402


class KV(wp.Plugin):
    name = "kv-test"
    version = "0.1.0"
    schema = wp.Schema([
        wp.Field("greeting", wp.STRING, default="hello"),
        wp.Field("answer", wp.STRING, enum=["actions", "bad_kind"], default="actions"),
    ])

    def configure(self, config, host, instance_name):
        self.host = host
        self.greeting = config["greeting"]
        self.bad = config["answer"] == "bad_kind"
        print("a stray print after the handshake")  # must not reach stdout

    def handle_event(self, event):
        if self.bad or event.work_order_id == 666:
            return [pb.Action(kind=99, work_order_id=event.work_order_id)]
        if self.host.available:
            n = int(self.host.kv_get("count") or b"0") + 1
            self.host.kv_put("count", str(n))
            logging.getLogger("kv").info("counted", extra={"count": n, "work_order": event.work_order_id})
            return [wp.note(event.work_order_id, "%s %d" % (self.greeting, n))]
        return [wp.accept(event.work_order_id, self.greeting)]


    def stop(self):
        logging.getLogger("kv").info("stopped")


if __name__ == "__main__":
    wp.serve(KV())
