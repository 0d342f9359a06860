"""Loads the generated protocol modules.

protoc's Python generator writes absolute imports that follow the .proto
paths (``from wogate.plugin.v1 import plugin_pb2``), so the directory they
were generated into (_gen, committed and checked by ``make proto-check``)
has to be on sys.path. It is appended, never prepended, and its top-level
names (``wogate``, ``wogate_goplugin``) are chosen not to shadow real packages.
"""

import os
import sys

_GEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_gen")
if _GEN not in sys.path:
    sys.path.append(_GEN)

try:
    import grpc  # noqa: F401  (python3-grpcio)
    import google.protobuf  # noqa: F401  (python3-protobuf)
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.stderr.write(
        "wogate_plugin: %s. The SDK needs Debian's python3-grpcio and python3-protobuf "
        "(apt-get install python3-grpcio python3-protobuf python3-cryptography), which are "
        "installed for /usr/bin/python3; this interpreter is %s.\n" % (e, sys.executable))
    raise

from wogate.plugin.v1 import plugin_pb2 as pb  # noqa: E402
from wogate.plugin.v1 import plugin_pb2_grpc as pb_grpc  # noqa: E402
from wogate_goplugin import grpc_broker_pb2 as broker_pb  # noqa: E402
from wogate_goplugin import grpc_broker_pb2_grpc as broker_grpc  # noqa: E402
from wogate_goplugin import grpc_controller_pb2 as controller_pb  # noqa: E402
from wogate_goplugin import grpc_controller_pb2_grpc as controller_grpc  # noqa: E402
from wogate_goplugin import health_pb2 as health_pb  # noqa: E402
from wogate_goplugin import health_pb2_grpc as health_grpc  # noqa: E402

__all__ = ["pb", "pb_grpc", "broker_pb", "broker_grpc", "controller_pb", "controller_grpc",
           "health_pb", "health_grpc"]
