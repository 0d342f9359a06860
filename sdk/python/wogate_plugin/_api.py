"""What a plugin author uses: Plugin, Event, Action, PluginError, Host."""

import json

import grpc

from ._proto import pb
from ._schema import Schema


class PluginError(Exception):
    """An error the plugin reports for an event.

    retryable: the gateway delivers the event again later.
    needs_person: the event is parked with the message as its reason until
    a person acts (retryable is then ignored).
    Neither: the event goes to the dead letters.
    """

    def __init__(self, message, retryable=False, needs_person=False):
        super().__init__(message)
        self.message = message or "plugin reported an error without a message"
        self.retryable = bool(retryable) and not needs_person
        self.needs_person = bool(needs_person)

    def to_pb(self):
        return pb.PluginError(message=self.message, retryable=self.retryable, needs_person=self.needs_person)


class NotFound(PluginError):
    """The host does not know the work order or customer asked for."""


# ---------------------------------------------------------------- events

class Header:
    """CorrigoPro's MessageHeader of the notification."""

    def __init__(self, h):
        self.work_order_id = h.work_order_id
        self.branch_id = h.branch_id
        self.action = h.action
        self.api_version = h.api_version
        self.message_id = h.message_id
        self.action_date = h.action_date.ToDatetime() if h.HasField("action_date") else None
        self.sender = {"name": h.sender.name, "phone": h.sender.phone, "type": h.sender.type} if h.HasField("sender") else None
        self.performed_by = {"name": h.performed_by.name, "phone": h.performed_by.phone} if h.HasField("performed_by") else None


class Event:
    """One CorrigoPro event routed to the plugin by a rule.

    work_order is CorrigoPro's work order JSON as a dict (its field names:
    "Id", "Number", "Priority", ...), or None when the gateway does not
    have it; body is the notification as CorrigoPro sent it (bytes).
    """

    def __init__(self, e):
        self.id = e.id
        self.account = e.account
        self.source = e.source
        self.rule = e.rule
        self.header = Header(e.header)
        self.body = e.body
        self.replay = e.replay
        self.work_order = json.loads(e.work_order_json) if e.work_order_json else None

    @property
    def action(self):
        """The notification's action: "NewWorkOrder", "StatusChanged", ..."""
        return self.header.action

    @property
    def work_order_id(self):
        if self.header.work_order_id:
            return self.header.work_order_id
        return int((self.work_order or {}).get("Id") or 0)


# --------------------------------------------------------------- actions

KINDS = {
    "accept": pb.ACTION_KIND_ACCEPT,
    "reject": pb.ACTION_KIND_REJECT,
    "check_in": pb.ACTION_KIND_CHECK_IN,
    "pause": pb.ACTION_KIND_PAUSE,
    "check_out": pb.ACTION_KIND_CHECK_OUT,
    "work_done_details": pb.ACTION_KIND_WORK_DONE_DETAILS,
    "quote": pb.ACTION_KIND_QUOTE,
    "invoice_update": pb.ACTION_KIND_INVOICE_UPDATE,
    "invoice_submit": pb.ACTION_KIND_INVOICE_SUBMIT,
    "note": pb.ACTION_KIND_NOTE,
    "message": pb.ACTION_KIND_MESSAGE,
    "appointment": pb.ACTION_KIND_APPOINTMENT,
}


class Action:
    """One thing the plugin asks the gateway to do in CorrigoPro.

    kind is one of KINDS ("accept", "note", ...); the fields that matter
    depend on it, as in the Go SDK's pluginapi.Action. The gateway checks
    the action against the work order's status before sending it.
    """

    def __init__(self, kind, work_order_id, comment="", text="", visibility="", amount=0.0,
                 submit_anyway=False, scheduled_start=None, pte=""):
        if kind not in KINDS:
            raise ValueError("unknown action kind %r (one of %s)" % (kind, ", ".join(KINDS)))
        if kind in ("note", "message") and not text:
            raise ValueError("%s needs text" % kind)
        if kind == "reject" and not comment:
            raise ValueError("reject needs a comment: CorrigoPro requires a reason")
        if kind == "appointment" and scheduled_start is None:
            raise ValueError("appointment needs scheduled_start")
        if len(comment) > 3000:
            raise ValueError("%s comment is %d characters; CorrigoPro allows 3000" % (kind, len(comment)))
        self.kind = kind
        self.work_order_id = int(work_order_id)
        self.comment = comment
        self.text = text
        self.visibility = visibility
        self.amount = amount
        self.submit_anyway = submit_anyway
        self.scheduled_start = scheduled_start
        self.pte = pte

    def __repr__(self):
        return "Action(%r, %d)" % (self.kind, self.work_order_id)

    def to_pb(self):
        a = pb.Action(kind=KINDS[self.kind], work_order_id=self.work_order_id, comment=self.comment,
                      text=self.text, visibility=self.visibility, amount=self.amount,
                      submit_anyway=self.submit_anyway)
        if self.scheduled_start is not None:
            a.appointment.scheduled_start.FromDatetime(self.scheduled_start)
            a.appointment.pte = self.pte
        return a


def accept(work_order_id, comment=""):
    return Action("accept", work_order_id, comment=comment)


def reject(work_order_id, comment):
    return Action("reject", work_order_id, comment=comment)


def note(work_order_id, text):
    return Action("note", work_order_id, text=text)


def message(work_order_id, text, visibility=""):
    return Action("message", work_order_id, text=text, visibility=visibility)


def actions_to_pb(actions):
    """Actions (or, for what the SDK does not model, pb.Action messages)."""
    out = []
    for i, a in enumerate(actions or ()):
        if isinstance(a, Action):
            out.append(a.to_pb())
        elif isinstance(a, pb.Action):
            out.append(a)
        else:
            raise PluginError("action %d is a %s, not a wogate_plugin.Action" % (i, type(a).__name__))
    return out


# ------------------------------------------------------------------ host

class Host:
    """The gateway's services for this plugin process (go-plugin's broker).

    Every call raises PluginError (retryable when the gateway says "try
    again later") or NotFound.
    """

    def __init__(self, stub=None, timeout=30.0):
        self._stub = stub
        self._timeout = timeout

    @property
    def available(self):
        return self._stub is not None

    def _call(self, method, req):
        if self._stub is None:
            raise PluginError("no host service in this context")
        try:
            return getattr(self._stub, method)(req, timeout=self._timeout)
        except grpc.RpcError as e:
            code, details = e.code(), e.details()
            if code == grpc.StatusCode.NOT_FOUND:
                raise NotFound(details) from None
            if code in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT,
                        grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNIMPLEMENTED):
                raise PluginError("host %s: %s" % (method, details)) from None
            raise PluginError("host %s: %s: %s" % (method, code.name, details), retryable=True) from None

    def get_work_order(self, account, work_order_id):
        r = self._call("GetWorkOrder", pb.GetWorkOrderRequest(account=account, work_order_id=work_order_id))
        return json.loads(r.work_order_json)

    def get_customer_settings(self, account, customer_id):
        r = self._call("GetCustomerSettings", pb.GetCustomerSettingsRequest(account=account, customer_id=customer_id))
        return json.loads(r.settings_json)

    def kv_get(self, key):
        """The value stored under key (bytes), or None."""
        r = self._call("KVGet", pb.KVGetRequest(key=key))
        return r.value if r.found else None

    def kv_put(self, key, value):
        self._call("KVPut", pb.KVPutRequest(key=key, value=value.encode() if isinstance(value, str) else value))

    def kv_delete(self, key):
        self._call("KVDelete", pb.KVDeleteRequest(key=key))

    def log(self, level, msg, **fields):
        req = pb.LogRequest(level=level, message=msg)
        for k, v in fields.items():
            f = req.fields.add(key=k)
            if isinstance(v, bool):
                f.bool_value = v
            elif isinstance(v, int):
                f.int_value = v
            elif isinstance(v, float):
                f.float_value = v
            else:
                f.string_value = str(v)
        self._call("Log", req)

    def submit_actions(self, account, key, actions):
        """Queues actions with no event to answer; key makes it idempotent."""
        self._call("SubmitActions", pb.SubmitActionsRequest(account=account, key=key, actions=actions_to_pb(actions)))


# ---------------------------------------------------------------- plugin

class Plugin:
    """Subclass and override what the plugin does; pass an instance to serve().

    Calls may arrive on several threads at once (the gateway's
    plugins.<name>.concurrency); configure runs before any handle_event.
    """

    name = ""
    version = "0.0.0"
    description = ""
    schema = Schema()

    def validate_config(self, config):
        """Checks beyond the schema: a list of ConfigError (empty when fine)."""
        return []

    def configure(self, config, host, instance_name):
        """Applies a validated config (defaults filled in). Raise PluginError to refuse."""

    def handle_event(self, event):
        """Returns the actions for one event (a list of Action; may be empty)."""
        return []

    def stop(self):
        """Flush and release resources; the process exits shortly after."""
