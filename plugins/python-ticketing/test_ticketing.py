import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sdk", "python"))

import wogate_plugin as wp  # noqa: E402
from wogate_plugin._proto import pb  # noqa: E402

import ticketing  # noqa: E402


def event(action="NewWorkOrder", priority="EMERGENCY", wo_id=10001, with_wo=True):
    wo = {"Id": wo_id, "WorkOrderNumber": "SHC1", "Sla": {"PriorityName": priority}}
    return wp.Event(pb.Event(id="e1", account="main", header=pb.Header(work_order_id=wo_id, action=action),
                             work_order_json=json.dumps(wo).encode() if with_wo else b""))


class TicketingTest(unittest.TestCase):
    def plugin(self, **cfg):
        p = ticketing.Ticketing()
        applied, errs = p.schema.apply(dict({"priorities": ["emergency", "High"]}, **cfg))
        self.assertEqual(errs, [])
        self.assertEqual(p.validate_config(applied), [])
        p.configure(applied, wp.Host(None), "t")
        return p

    def test_events(self):
        p = self.plugin(accept_comment="on it")
        cases = [
            ("emergency accepted and noted", event(), [("accept", "on it", ""), ("note", "", "Ticket TCK-SHC1 opened by python-ticketing (priority EMERGENCY).")]),
            ("priority matched in any case", event(priority="high"), [("accept", "on it", ""), ("note", "", "Ticket TCK-SHC1 opened by python-ticketing (priority HIGH).")]),
            ("other priority left alone", event(priority="LOW"), []),
            ("no priority left alone", event(priority=""), []),
            ("other actions ignored", event(action="StatusChanged"), []),
        ]
        for name, ev, want in cases:
            with self.subTest(name):
                got = p.handle_event(ev)
                self.assertEqual([(a.kind, a.comment, a.text) for a in got], want)
                self.assertTrue(all(a.work_order_id == 10001 for a in got))

    def test_missing_work_order_is_retried(self):
        with self.assertRaises(wp.PluginError) as e:
            self.plugin().handle_event(event(with_wo=False))
        self.assertTrue(e.exception.retryable)

    def test_config(self):
        p = ticketing.Ticketing()
        for name, cfg, want in [
            ("priorities required", {}, [("priorities", "is required")]),
            ("typo", {"priorities": ["LOW"], "ticket_prefx": "X"}, [("ticket_prefx", 'unknown key (did you mean "ticket_prefix"?)')]),
        ]:
            with self.subTest(name):
                _, errs = p.schema.apply(cfg)
                self.assertEqual([(e.key, e.message) for e in errs], want)
        for name, prios in [("empty list", []), ("empty entry", ["LOW", " "])]:
            with self.subTest(name):
                applied, errs = p.schema.apply({"priorities": prios})
                self.assertEqual(errs, [])
                self.assertEqual([e.key for e in p.validate_config(applied)], ["priorities"])


if __name__ == "__main__":
    unittest.main()
