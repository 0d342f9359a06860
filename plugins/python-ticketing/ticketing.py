"""The ticketing connector's logic, kept apart from main.py so that it can
be unit-tested without a gateway (test_ticketing.py)."""

import logging
import os
import threading

import wogate_plugin as wp

log = logging.getLogger("ticketing")


def priority_of(work_order):
    """The work order's priority name in upper case ("" when unknown)."""
    sla = (work_order or {}).get("Sla") or {}
    return str(sla.get("PriorityName") or "").upper()


class Ticketing(wp.Plugin):
    name = "python-ticketing"
    version = "1.0.0"
    description = "Accepts new work orders of the configured priorities and notes the ticket opened for each."
    schema = wp.Schema([
        wp.Field("priorities", wp.STRING_LIST, required=True, example="[EMERGENCY, HIGH]",
                 description="Priorities (Sla.PriorityName, any case) to accept; other work orders are left alone."),
        wp.Field("ticket_prefix", wp.STRING, default="TCK-",
                 description="Prefix of the ticket numbers written into the note."),
        wp.Field("accept_comment", wp.STRING, default="",
                 description="Comment sent with the accept (empty: none)."),
        wp.Field("crash_marker", wp.STRING, default="",
                 description="Testing only: a file path; if the file does not exist, the plugin creates it and "
                             "exits abruptly on its first event, as a crashing plugin would."),
    ])

    def __init__(self):
        self.lock = threading.Lock()
        self.priorities = set()
        self.prefix = "TCK-"
        self.comment = ""
        self.crash_marker = ""

    def validate_config(self, config):
        errs = []
        for p in config["priorities"]:
            if not p.strip():
                errs.append(wp.ConfigError("priorities", "has an empty entry"))
        if not config["priorities"]:
            errs.append(wp.ConfigError("priorities", "needs at least one priority"))
        return errs

    def configure(self, config, host, instance_name):
        self.priorities = {p.strip().upper() for p in config["priorities"]}
        self.prefix = config["ticket_prefix"]
        self.comment = config["accept_comment"]
        self.crash_marker = config["crash_marker"]
        log.info("configured", extra={"instance": instance_name, "priorities": ",".join(sorted(self.priorities))})

    def _maybe_crash(self):
        if not self.crash_marker or os.path.exists(self.crash_marker):
            return
        with open(self.crash_marker, "w") as f:
            f.write("crashed once\n")
        log.error("crash_marker: exiting abruptly on the first event")
        os._exit(3)

    def handle_event(self, event):
        if event.action != "NewWorkOrder":
            return []
        wo = event.work_order
        if wo is None:
            # The gateway sends the work order with NewWorkOrder; without it
            # the priority is unknown: try again rather than guess.
            raise wp.PluginError("event %s carries no work order" % event.id, retryable=True)
        prio = priority_of(wo)
        if prio not in self.priorities:
            log.info("left alone", extra={"work_order": event.work_order_id, "priority": prio})
            return []
        self._maybe_crash()
        number = wo.get("WorkOrderNumber") or str(event.work_order_id)
        ticket = "%s%s" % (self.prefix, number)
        log.info("accepted", extra={"work_order": event.work_order_id, "priority": prio, "ticket": ticket})
        return [
            wp.accept(event.work_order_id, self.comment),
            wp.note(event.work_order_id, "Ticket %s opened by python-ticketing (priority %s)." % (ticket, prio)),
        ]
