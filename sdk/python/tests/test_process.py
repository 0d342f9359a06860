"""The SDK through a real plugin process, with this test as the host: the
go-plugin handshake on stdout, AutoMTLS both ways, health, the Plugin
service, the broker to a Host service the test serves, and shutdown by
the controller (as go-plugin's client does it)."""

import base64
import json
import os
import subprocess
import sys
import threading
import time
import unittest
from concurrent import futures

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from wogate_plugin import _server, _tls
from wogate_plugin._proto import (broker_grpc, broker_pb, controller_grpc, controller_pb, health_grpc,
                                  health_pb, pb, pb_grpc)

PLUGIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kv_plugin.py")


def plugin_env(host_cert, **extra):
    env = {"PATH": os.environ.get("PATH", ""),
           _server.MAGIC_COOKIE_KEY: _server.MAGIC_COOKIE_VALUE,
           "PLUGIN_PROTOCOL_VERSIONS": "1",
           "PLUGIN_CLIENT_CERT": host_cert.cert_pem.decode()}
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


class FakeHostKV(pb_grpc.HostServicer):
    """A real gRPC Host service (over mTLS), keeping KV in a dict."""

    def __init__(self):
        self.kv = {}

    def KVGet(self, request, context):
        v = self.kv.get(request.key)
        return pb.KVGetResponse(value=v or b"", found=v is not None)

    def KVPut(self, request, context):
        self.kv[request.key] = request.value
        return pb.KVPutResponse()


class ProcessTest(unittest.TestCase):
    def start(self, **env):
        self.host_cert = _tls.generate()
        p = subprocess.Popen([sys.executable, PLUGIN], env=plugin_env(self.host_cert, **env),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: (p.kill(), p.wait(), p.stdout.close(), p.stderr.close()))
        return p

    def connect(self, p):
        line = p.stdout.readline().decode().strip()
        parts = line.split("|")
        self.assertEqual(len(parts), 6, line)
        core, version, network, addr, proto, cert = parts
        self.assertEqual((core, version, network, proto), ("1", "1", "tcp", "grpc"))
        self.assertTrue(addr.startswith("127.0.0.1:"), addr)
        der = base64.b64decode(cert + "=" * (-len(cert) % 4))
        plugin_pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
        creds = grpc.ssl_channel_credentials(root_certificates=plugin_pem, private_key=self.host_cert.key_pem,
                                             certificate_chain=self.host_cert.cert_pem)
        ch = grpc.secure_channel(addr, creds, options=[("grpc.ssl_target_name_override", "localhost")])
        self.addCleanup(ch.close)
        return ch, addr, plugin_pem

    def test_serve_and_shutdown(self):
        p = self.start()
        ch, _, _ = self.connect(p)
        h = health_grpc.HealthStub(ch).Check(health_pb.HealthCheckRequest(service="plugin"), timeout=10)
        self.assertEqual(h.status, health_pb.HealthCheckResponse.SERVING)

        plugin = pb_grpc.PluginStub(ch)
        d = plugin.Describe(pb.DescribeRequest(), timeout=10)
        self.assertEqual((d.name, d.version, d.sdk_version), ("kv-test", "0.1.0", _server.SDK_VERSION))
        self.assertFalse(d.handles_inbound)

        v = plugin.ValidateConfig(pb.ValidateConfigRequest(config_json=b'{"greting":"x"}'), timeout=10)
        self.assertEqual([(e.key, e.message) for e in v.errors], [("greting", 'unknown key (did you mean "greeting"?)')])
        v = plugin.ValidateConfig(pb.ValidateConfigRequest(config_json=b"[1]"), timeout=10)
        self.assertEqual([e.message for e in v.errors], ["config must be an object"])

        c = plugin.Configure(pb.ConfigureRequest(config_json=b"{}", instance_name="kv"), timeout=10)
        self.assertFalse(c.HasField("error"))
        ev = pb.Event(id="e1", account="main", header=pb.Header(work_order_id=5, action="NewWorkOrder"),
                      work_order_json=json.dumps({"Id": 5}).encode())
        r = plugin.HandleEvent(pb.HandleEventRequest(event=ev), timeout=10)
        self.assertEqual([(a.kind, a.work_order_id, a.comment) for a in r.actions], [(pb.ACTION_KIND_ACCEPT, 5, "hello")])
        # A malformed answer travels as the plugin wrote it; the gateway
        # refuses it (e2e/python_plugin_test.go).
        ev.header.work_order_id = 666
        r = plugin.HandleEvent(pb.HandleEventRequest(event=ev), timeout=10)
        self.assertEqual([a.kind for a in r.actions], [99])
        with self.assertRaises(grpc.RpcError) as e:
            plugin.HandleInbound(pb.HandleInboundRequest(), timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNIMPLEMENTED)

        # The broker stream the host keeps open must not hold the exit up:
        # go-plugin kills a plugin that has not exited 2 s after Shutdown.
        stream = broker_grpc.GRPCBrokerStub(ch).StartStream(iter(threading.Event().wait, True))
        self.addCleanup(stream.cancel)
        t0 = time.monotonic()
        controller_grpc.GRPCControllerStub(ch).Shutdown(controller_pb.Empty(), timeout=10)
        self.assertEqual(p.wait(timeout=10), 0)
        self.assertLess(time.monotonic() - t0, 1.0)
        stderr = p.stderr.read().decode()
        # Nothing but the handshake line on stdout: a print goes to stderr.
        self.assertEqual(p.stdout.read(), b"")
        self.assertIn("a stray print after the handshake", stderr)
        first = json.loads(stderr.splitlines()[0])
        self.assertEqual((first["@level"], first["@message"]), ("info", "plugin serving"))

    def test_broker_host_service(self):
        p = self.start()
        ch, _, plugin_pem = self.connect(p)
        # The host side of go-plugin's broker: serve Host on a listener of
        # our own (trusting only the plugin's certificate) and announce it
        # on the broker stream under a service id.
        host = FakeHostKV()
        srv = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pb_grpc.add_HostServicer_to_server(host, srv)
        port = srv.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials(
            [(self.host_cert.key_pem, self.host_cert.cert_pem)], root_certificates=plugin_pem, require_client_auth=True))
        srv.start()
        self.addCleanup(srv.stop, None)
        announce = threading.Event()

        def infos():
            yield broker_pb.ConnInfo(service_id=7, network="tcp", address="127.0.0.1:%d" % port)
            announce.wait(30)  # keep the stream open, as the host does

        stream = broker_grpc.GRPCBrokerStub(ch).StartStream(infos())
        self.addCleanup(announce.set)
        self.addCleanup(stream.cancel)
        plugin = pb_grpc.PluginStub(ch)
        c = plugin.Configure(pb.ConfigureRequest(config_json=b'{"greeting":"n"}', host_broker_id=7), timeout=10)
        self.assertFalse(c.HasField("error"))
        for want in ("n 1", "n 2"):
            ev = pb.Event(id="e", header=pb.Header(work_order_id=9, action="NewWorkOrder"))
            r = plugin.HandleEvent(pb.HandleEventRequest(event=ev), timeout=10)
            self.assertEqual([a.text for a in r.actions], [want])
        self.assertEqual(host.kv, {"count": b"2"})

    def test_broker_id_never_announced(self):
        p = self.start()
        ch, _, _ = self.connect(p)
        start = time.monotonic()
        with self.assertRaises(grpc.RpcError) as e:
            pb_grpc.PluginStub(ch).Configure(pb.ConfigureRequest(config_json=b"{}", host_broker_id=3), timeout=20)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertIn("did not announce host service 3", e.exception.details())
        self.assertLess(time.monotonic() - start, 15)

    def test_refuses_without_cookie_or_cert(self):
        for name, env, want in [
            ("no cookie", {_server.MAGIC_COOKIE_KEY: None}, "it is not meant to be run by hand"),
            ("no client cert", {"PLUGIN_CLIENT_CERT": None}, "refusing to serve without mutual TLS"),
            ("bad client cert", {"PLUGIN_CLIENT_CERT": "junk"}, "not a PEM certificate"),
        ]:
            with self.subTest(name):
                p = self.start(**env)
                out, err = p.communicate(timeout=20)
                self.assertEqual(p.returncode, 1)
                self.assertEqual(out, b"")
                self.assertIn(want, err.decode())

    def test_two_plugins_in_one_port_range(self):
        # go-plugin gives every plugin the same PLUGIN_MIN_PORT..MAX_PORT;
        # two plugins must not end up on one port.
        addrs = []
        for _ in range(2):
            p = self.start(PLUGIN_MIN_PORT="23000", PLUGIN_MAX_PORT="23100")
            ch, addr, _ = self.connect(p)
            addrs.append(addr)
            d = pb_grpc.PluginStub(ch).Describe(pb.DescribeRequest(), timeout=10)
            self.assertEqual(d.name, "kv-test")
        self.assertNotEqual(addrs[0], addrs[1])
        for a in addrs:
            self.assertTrue(23000 <= int(a.rsplit(":", 1)[1]) <= 23100, a)

    def test_stop_called_once(self):
        p = self.start()
        ch, _, _ = self.connect(p)
        stub = pb_grpc.PluginStub(ch)
        stub.Configure(pb.ConfigureRequest(config_json=b"{}"), timeout=10)
        self.assertFalse(stub.Stop(pb.StopRequest(), timeout=10).HasField("error"))
        controller_grpc.GRPCControllerStub(ch).Shutdown(controller_pb.Empty(), timeout=10)
        self.assertEqual(p.wait(timeout=10), 0)
        self.assertEqual(p.stderr.read().decode().count('"stopped"'), 1)

    def test_sigterm_stops_gracefully(self):
        p = self.start()
        ch, _, _ = self.connect(p)
        health_grpc.HealthStub(ch).Check(health_pb.HealthCheckRequest(service="plugin"), timeout=10)
        p.terminate()
        self.assertEqual(p.wait(timeout=10), 0)


if __name__ == "__main__":
    unittest.main()
