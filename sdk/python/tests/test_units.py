import base64
import datetime
import json
import logging
import unittest

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

import wogate_plugin as wp
from wogate_plugin import _log, _tls
from wogate_plugin._proto import pb


class SchemaTest(unittest.TestCase):
    schema = wp.Schema([
        wp.Field("url", wp.STRING, required=True),
        wp.Field("mode", wp.STRING, enum=["a", "b"], default="a"),
        wp.Field("n", wp.INT, default=3),
        wp.Field("ratio", wp.FLOAT),
        wp.Field("on", wp.BOOL),
        wp.Field("every", wp.DURATION),
        wp.Field("tags", wp.STRING_LIST),
        wp.Field("hdr", wp.STRING_MAP),
    ])

    def test_apply(self):
        cases = [
            ("defaults filled", {"url": "x"}, {"url": "x", "mode": "a", "n": 3}, []),
            ("null is absent", {"url": "x", "n": None}, {"url": "x", "mode": "a", "n": 3}, []),
            ("required", {}, None, [("url", "is required")]),
            ("enum", {"url": "x", "mode": "c"}, None, [("mode", 'must be one of a, b, got "c"')]),
            ("int from string", {"url": "x", "n": " 7 "}, {"url": "x", "mode": "a", "n": 7}, []),
            ("int not bool", {"url": "x", "n": True}, None, [("n", "must be an integer, got true (bool)")]),
            ("int not fraction", {"url": "x", "n": 1.5}, None, [("n", "must be an integer, got 1.5 (number)")]),
            ("float", {"url": "x", "ratio": 2}, {"url": "x", "mode": "a", "n": 3, "ratio": 2.0}, []),
            ("bool from string", {"url": "x", "on": "true"}, {"url": "x", "mode": "a", "n": 3, "on": True}, []),
            ("bool wrong", {"url": "x", "on": "yes"}, None, [("on", 'must be true or false, got "yes" (string)')]),
            ("duration", {"url": "x", "every": "1m30s"}, {"url": "x", "mode": "a", "n": 3, "every": "1m30s"}, []),
            ("duration wrong", {"url": "x", "every": "soon"}, None,
             [("every", 'must be a duration such as 30s or 5m, got "soon" (string)')]),
            ("list from one string", {"url": "x", "tags": "t"}, {"url": "x", "mode": "a", "n": 3, "tags": ["t"]}, []),
            ("list of non-strings", {"url": "x", "tags": [1]}, None, [("tags", "must be a list of strings, got a list")]),
            ("map", {"url": "x", "hdr": {"a": 1}}, None, [("hdr", "must be an object of strings, got an object")]),
            ("unknown with suggestion", {"url": "x", "modes": "a"}, None, [("modes", 'unknown key (did you mean "mode"?)')]),
            ("errors sorted by key", {"zzz": 1, "n": "x"}, None,
             [("n", 'must be an integer, got "x" (string)'), ("url", "is required"), ("zzz", "unknown key")]),
        ]
        for name, cfg, want, want_errs in cases:
            with self.subTest(name):
                got, errs = self.schema.apply(cfg)
                self.assertEqual([(e.key, e.message) for e in errs], want_errs)
                if want is not None:
                    self.assertEqual(got, want)

    def test_allow_unknown(self):
        got, errs = wp.Schema([], allow_unknown=True).apply({"x": 1})
        self.assertEqual((got, errs), ({"x": 1}, []))

    def test_to_pb(self):
        s = self.schema.to_pb()
        self.assertEqual([f.name for f in s.fields], ["url", "mode", "n", "ratio", "on", "every", "tags", "hdr"])
        self.assertEqual(s.fields[0].type, pb.FIELD_TYPE_STRING)
        self.assertTrue(s.fields[0].required)
        self.assertEqual(json.loads(s.fields[2].default_json), 3)
        self.assertEqual(s.fields[3].default_json, b"")
        self.assertEqual(list(s.fields[1].enum), ["a", "b"])

    def test_unknown_type(self):
        with self.assertRaises(ValueError):
            wp.Field("x", "date")


class ActionTest(unittest.TestCase):
    def test_kinds_match_the_protocol(self):
        # Every ActionKind of the protocol but UNSPECIFIED has a name here.
        proto = {v.number for v in pb.ActionKind.DESCRIPTOR.values if v.number != 0}
        self.assertEqual(set(wp.KINDS.values()), proto)

    def test_checks(self):
        for kind, kw in [("note", {}), ("message", {}), ("reject", {}), ("appointment", {}),
                         ("nonsense", {}), ("accept", {"comment": "x" * 3001})]:
            with self.subTest(kind), self.assertRaises(ValueError):
                wp.Action(kind, 1, **kw)

    def test_to_pb(self):
        a = wp.note(42, "hi").to_pb()
        self.assertEqual((a.kind, a.work_order_id, a.text), (pb.ACTION_KIND_NOTE, 42, "hi"))
        when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
        ap = wp.Action("appointment", 7, scheduled_start=when, pte="Appointment").to_pb()
        self.assertEqual(ap.appointment.scheduled_start.seconds, int(when.timestamp()))
        self.assertEqual(ap.appointment.pte, "Appointment")

    def test_plugin_error(self):
        e = wp.PluginError("x", retryable=True, needs_person=True)
        self.assertEqual((e.retryable, e.needs_person), (False, True))
        self.assertEqual(wp.PluginError("").message, "plugin reported an error without a message")


class LogTest(unittest.TestCase):
    def test_format_line(self):
        now = datetime.datetime(2026, 12, 7, 13, 0, 0, tzinfo=datetime.timezone.utc)
        line = _log.format_line("warn", "disk low", {"free": 3, "path": "/x", "@level": "bad", "obj": object}, now)
        got = json.loads(line)
        self.assertEqual(got["@level"], "warn")
        self.assertEqual(got["@message"], "disk low")
        self.assertEqual(got["@timestamp"], "2026-12-07T13:00:00.000000+00:00")
        self.assertEqual((got["free"], got["path"]), (3, "/x"))
        self.assertIsInstance(got["obj"], str)
        self.assertNotIn("\n", line)

    def test_handler(self):
        import io
        buf = io.StringIO()
        lg = logging.getLogger("wogate_plugin.test")
        lg.propagate = False
        lg.addHandler(_log.HCLogHandler(buf))
        lg.setLevel(logging.DEBUG)
        lg.warning("multi\nline", extra={"work_order": 5})
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            lg.exception("failed")
        lines = buf.getvalue().splitlines()
        self.assertEqual(len(lines), 2)
        first, second = json.loads(lines[0]), json.loads(lines[1])
        self.assertEqual((first["@level"], first["@message"], first["work_order"]), ("warn", "multi\nline", 5))
        self.assertEqual(second["@level"], "error")
        self.assertIn("RuntimeError: boom", second["error"])


class TLSTest(unittest.TestCase):
    def test_generated_cert(self):
        c = _tls.generate()
        # go-plugin decodes the handshake field with base64.RawStdEncoding.
        self.assertNotIn("=", c.handshake)
        der = base64.b64decode(c.handshake + "=" * (-len(c.handshake) % 4))
        self.assertEqual(der, c.der)
        cert = x509.load_der_x509_certificate(der)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertEqual(san.get_values_for_type(x509.DNSName), ["localhost"])
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        self.assertIn(ExtendedKeyUsageOID.SERVER_AUTH, eku)
        self.assertIn(ExtendedKeyUsageOID.CLIENT_AUTH, eku)
        self.assertTrue(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)

    def test_check_client_cert(self):
        _tls.check_client_cert(_tls.generate().cert_pem.decode())
        for bad in ["", "not a cert"]:
            with self.subTest(bad), self.assertRaises(ValueError):
                _tls.check_client_cert(bad)


if __name__ == "__main__":
    unittest.main()
