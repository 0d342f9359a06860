"""The plugin process: go-plugin's handshake, AutoMTLS, health, broker,
controller, and the wogate.plugin.v1 Plugin service around a Plugin."""

import json
import logging
import os
import signal
import sys
import threading
import traceback
from concurrent import futures

import grpc

from . import _log, _tls
from ._api import Event, Host, PluginError, actions_to_pb
from ._proto import (broker_grpc, controller_grpc, controller_pb, health_grpc, health_pb, pb,
                     pb_grpc)

# The handshake shared with the gateway (pkg/pluginapi.Handshake). The
# cookie is not a secret: it tells a person who runs the script by hand
# that it is a plugin, and the gateway that what it started is one.
MAGIC_COOKIE_KEY = "WOGATE_PLUGIN_COOKIE"
MAGIC_COOKIE_VALUE = "4f6c2b1e-wogate-plugin-9d3a7c55"
CORE_PROTOCOL_VERSION = 1  # go-plugin's own
PROTOCOL_VERSION = 1       # wogate.plugin.v1
SDK_VERSION = "wogate-python-sdk/1"
MAX_MESSAGE = 16 << 20     # pluginapi.DefaultMaxMessageSize
BROKER_DIAL_TIMEOUT = 5.0  # as go-plugin's GRPCBroker.Dial
SHUTDOWN_GRACE = 0.2       # controller Shutdown: the host is done
TERM_GRACE = 2.0           # SIGTERM: let calls in flight finish

log = _log.log


class Broker:
    """go-plugin's GRPCBroker, plugin side, without multiplexing.

    The host opens StartStream and sends, for each service it offers, the
    address it listens on; the plugin dials it with its own certificate.
    wogate offers one service, the Host service, whose id comes in
    ConfigureRequest.host_broker_id.
    """

    def __init__(self, creds):
        self._creds = creds
        self._cond = threading.Condition()
        self._infos = {}

    def StartStream(self, request_iterator, context):
        for info in request_iterator:
            with self._cond:
                self._infos[info.service_id] = info
                self._cond.notify_all()
        return iter(())

    def dial(self, service_id, timeout=BROKER_DIAL_TIMEOUT):
        with self._cond:
            if not self._cond.wait_for(lambda: service_id in self._infos, timeout=timeout):
                raise TimeoutError("the gateway did not announce host service %d within %.0fs" % (service_id, timeout))
            info = self._infos[service_id]
        target = ("unix:" + info.address) if info.network == "unix" else info.address
        return grpc.secure_channel(target, self._creds, options=[
            ("grpc.ssl_target_name_override", "localhost"),
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", MAX_MESSAGE),
        ])


class Health(health_grpc.HealthServicer):
    def __init__(self):
        self.serving = True

    def _status(self, service):
        if service not in ("", "plugin"):
            return health_pb.HealthCheckResponse.SERVICE_UNKNOWN
        return health_pb.HealthCheckResponse.SERVING if self.serving else health_pb.HealthCheckResponse.NOT_SERVING

    def Check(self, request, context):
        st = self._status(request.service)
        if st == health_pb.HealthCheckResponse.SERVICE_UNKNOWN:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service %r" % request.service)
        return health_pb.HealthCheckResponse(status=st)

    def Watch(self, request, context):
        yield health_pb.HealthCheckResponse(status=self._status(request.service))


class Controller(controller_grpc.GRPCControllerServicer):
    def __init__(self, shutdown):
        self._shutdown = shutdown

    def Shutdown(self, request, context):
        # Answer first; stopping the server inside its own handler would
        # cut this reply off. The host calls this when it is done (after
        # Stop, with no calls left) and kills the process 2 s later, so the
        # grace is short: gRPC Python would otherwise wait all of it out
        # for the broker stream the host keeps open.
        threading.Thread(target=self._shutdown, args=(SHUTDOWN_GRACE,), name="shutdown", daemon=True).start()
        return controller_pb.Empty()


def _guard(op, f):
    """f(), with an exception turned into a PluginError as the Go SDK does
    with a plain error: retryable, and logged with its traceback."""
    try:
        return f()
    except PluginError:
        raise
    except Exception as e:
        log.error("%s raised %s: %s" % (op, type(e).__name__, e), extra={"op": op, "traceback": traceback.format_exc()})
        raise PluginError("%s: %s: %s" % (op, type(e).__name__, e), retryable=True) from e


def _config_errors_pb(errs):
    return [pb.ConfigError(key=e.key, message=e.message) for e in errs]


class PluginService(pb_grpc.PluginServicer):
    def __init__(self, impl, broker):
        self.impl = impl
        self.broker = broker
        self._host = None
        self._host_id = 0
        self._lock = threading.Lock()
        self._stopped = False

    def stop_once(self):
        """Calls the plugin's stop once (the Stop call, then the end of the
        process, both ask for it)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self.impl.stop()

    def Describe(self, request, context):
        i = self.impl
        return pb.DescribeResponse(name=i.name, version=i.version, description=i.description,
                                   config_schema=i.schema.to_pb(), handles_inbound=False,
                                   sdk_version=SDK_VERSION)

    def _validate(self, raw):
        from ._schema import ConfigError
        try:
            cfg = json.loads(raw) if raw else {}
        except ValueError as e:
            return None, [ConfigError("", "config is not JSON: %s" % e)]
        if cfg is None:
            cfg = {}
        if not isinstance(cfg, dict):
            return None, [ConfigError("", "config must be an object")]
        applied, errs = self.impl.schema.apply(cfg)
        if errs:
            return None, errs
        try:
            more = list(self.impl.validate_config(applied) or [])
        except Exception as e:
            log.error("validate_config raised", exc_info=True)
            more = [ConfigError("", "validate_config raised %s: %s" % (type(e).__name__, e))]
        return applied, more

    def ValidateConfig(self, request, context):
        _, errs = self._validate(request.config_json)
        return pb.ValidateConfigResponse(errors=_config_errors_pb(errs))

    def _host_for(self, service_id):
        with self._lock:
            if service_id == 0:
                return Host(None)
            if self._host is not None and self._host_id == service_id:
                return self._host
            channel = self.broker.dial(service_id)
            self._host = Host(pb_grpc.HostStub(channel))
            self._host_id = service_id
            return self._host

    def Configure(self, request, context):
        cfg, errs = self._validate(request.config_json)
        if errs:
            return pb.ConfigureResponse(config_errors=_config_errors_pb(errs))
        try:
            host = self._host_for(request.host_broker_id)
        except Exception as e:
            context.abort(grpc.StatusCode.UNAVAILABLE, "connect to host service: %s" % e)
        try:
            _guard("configure", lambda: self.impl.configure(cfg, host, request.instance_name))
        except PluginError as e:
            return pb.ConfigureResponse(error=e.to_pb())
        return pb.ConfigureResponse()

    def HandleEvent(self, request, context):
        try:
            ev = Event(request.event)
        except ValueError as e:
            return pb.HandleEventResponse(error=PluginError("bad event: %s" % e).to_pb())
        try:
            actions = _guard("handle_event", lambda: self.impl.handle_event(ev))
            return pb.HandleEventResponse(actions=actions_to_pb(actions))
        except PluginError as e:
            if not context.is_active():
                # The gateway gave up on this call (deadline): say that,
                # not whatever the handler made of it.
                context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "the gateway's deadline passed")
            return pb.HandleEventResponse(error=e.to_pb())

    def HandleInbound(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "this plugin handles no inbound requests")

    def Stop(self, request, context):
        try:
            _guard("stop", self.stop_once)
        except PluginError as e:
            return pb.StopResponse(error=e.to_pb())
        return pb.StopResponse()


def _negotiate():
    """The wogate protocol version to serve. Like go-plugin, a host that
    lists no version this SDK speaks still gets an answer (the version we
    have), and the host reports the mismatch with both sides named."""
    offered = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", "")
    for v in offered.split(","):
        if v.strip() == str(PROTOCOL_VERSION):
            return PROTOCOL_VERSION
    if offered:
        log.warning("the gateway offers plugin protocol versions %s; this SDK speaks %d" % (offered, PROTOCOL_VERSION))
    return PROTOCOL_VERSION


def _bind(server, creds):
    lo = int(os.environ.get("PLUGIN_MIN_PORT") or 0)
    hi = int(os.environ.get("PLUGIN_MAX_PORT") or 0)
    ports = range(lo, hi + 1) if 0 < lo <= hi else [0]
    for port in ports:
        try:
            bound = server.add_secure_port("127.0.0.1:%d" % port, creds)
        except RuntimeError:
            bound = 0
        if bound:
            return bound
    raise RuntimeError("no free port on 127.0.0.1 in %s..%s" % (lo, hi))


def serve(impl, max_workers=32):
    """Runs impl as a wogate plugin until the gateway stops it. Call it from
    the script's main; it does not return normally (it exits the process)."""
    _log.install()
    if os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        sys.stderr.write("This is a wogate plugin: the gateway starts it (plugins.<name>.command "
                         "in its config); it is not meant to be run by hand.\n")
        sys.exit(1)
    client_cert = os.environ.get("PLUGIN_CLIENT_CERT", "")
    try:
        _tls.check_client_cert(client_cert)
    except ValueError as e:
        # wogate always starts plugins with AutoMTLS; without the host's
        # certificate the plugin would have to serve in the clear.
        log.error("refusing to serve without mutual TLS: %s" % e)
        sys.exit(1)
    version = _negotiate()
    cert = _tls.generate()
    host_pem = client_cert.encode("ascii")
    server_creds = grpc.ssl_server_credentials([(cert.key_pem, cert.cert_pem)],
                                               root_certificates=host_pem, require_client_auth=True)
    channel_creds = grpc.ssl_channel_credentials(root_certificates=host_pem, private_key=cert.key_pem,
                                                 certificate_chain=cert.cert_pem)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="plugin"),
                         options=[("grpc.max_receive_message_length", MAX_MESSAGE),
                                  ("grpc.max_send_message_length", MAX_MESSAGE),
                                  # gRPC Python sets SO_REUSEPORT by default: two
                                  # plugins of one gateway would then both bind
                                  # the first port of PLUGIN_MIN_PORT..MAX_PORT
                                  # and the kernel would share connections
                                  # between them.
                                  ("grpc.so_reuseport", 0)])
    broker = Broker(channel_creds)
    health = Health()
    stopped = threading.Event()
    service = PluginService(impl, broker)

    def shutdown(grace=TERM_GRACE):
        if stopped.is_set():
            return
        stopped.set()
        health.serving = False
        server.stop(grace).wait()

    pb_grpc.add_PluginServicer_to_server(service, server)
    health_grpc.add_HealthServicer_to_server(health, server)
    controller_grpc.add_GRPCControllerServicer_to_server(Controller(shutdown), server)
    broker_grpc.add_GRPCBrokerServicer_to_server(broker, server)
    # plugin.GRPCStdio is left unimplemented: the gateway then reads the
    # plugin's stderr directly (go-plugin falls back when it answers
    # Unimplemented), which is where this SDK logs.
    port = _bind(server, server_creds)
    server.start()

    # SIGINT reaches the whole process group when a person presses ^C at
    # the gateway's terminal; the gateway stops its plugins itself, in
    # order, so the plugin ignores it (as go-plugin's Serve does). SIGTERM
    # stops gracefully.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=shutdown, daemon=True).start())

    line = "%d|%d|tcp|127.0.0.1:%d|grpc|%s" % (CORE_PROTOCOL_VERSION, version, port, cert.handshake)
    out = os.fdopen(os.dup(1), "w")
    out.write(line + "\n")
    out.flush()
    out.close()
    # After the handshake nothing reads the plugin's stdout: send what the
    # plugin prints there to stderr, which the gateway logs.
    os.dup2(2, 1)
    log.info("plugin serving", extra={"plugin_name": impl.name, "plugin_version": impl.version, "port": port,
                                      "protocol": version, "sdk": SDK_VERSION})
    server.wait_for_termination()
    try:
        service.stop_once()
    except Exception:
        log.error("stop raised", exc_info=True)
    logging.shutdown()
    sys.stdout.flush()
    os._exit(0)
