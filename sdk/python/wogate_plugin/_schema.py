"""Config schemas, checked in the plugin as the Go SDK checks them.

A plugin declares its keys; the SDK reports unknown keys, missing required
keys, wrong types and values outside an enum before the plugin's own
validate_config runs, and fills in defaults, so plugin code sees
well-typed values. The gateway shows the schema (gateway plugins describe,
docs) from Describe.
"""

import difflib
import json
import re

from ._proto import pb

STRING = "string"
INT = "int"
FLOAT = "float"
BOOL = "bool"
DURATION = "duration"
STRING_LIST = "string_list"
STRING_MAP = "string_map"
ANY = "any"

_PB_TYPES = {
    STRING: pb.FIELD_TYPE_STRING,
    INT: pb.FIELD_TYPE_INT,
    FLOAT: pb.FIELD_TYPE_FLOAT,
    BOOL: pb.FIELD_TYPE_BOOL,
    DURATION: pb.FIELD_TYPE_DURATION,
    STRING_LIST: pb.FIELD_TYPE_STRING_LIST,
    STRING_MAP: pb.FIELD_TYPE_STRING_MAP,
    ANY: pb.FIELD_TYPE_ANY,
}

# A Go duration ("1m30s", "250ms", "1.5h"); values stay strings for the plugin.
_DURATION = re.compile(r"^[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$|^0$")


class ConfigError(Exception):
    """One problem with a config; key is "" for the config as a whole."""

    def __init__(self, key, message):
        super().__init__("%s: %s" % (key, message) if key else message)
        self.key = key
        self.message = message

    def __eq__(self, other):
        return isinstance(other, ConfigError) and (self.key, self.message) == (other.key, other.message)

    def __repr__(self):
        return "ConfigError(%r, %r)" % (self.key, self.message)


class Field:
    def __init__(self, name, type=STRING, required=False, default=None, description="",
                 secret=False, enum=(), example=""):
        if type not in _PB_TYPES:
            raise ValueError("field %r: unknown type %r (one of %s)" % (name, type, ", ".join(_PB_TYPES)))
        self.name = name
        self.type = type
        self.required = required
        self.default = default
        self.description = description
        self.secret = secret
        self.enum = list(enum)
        self.example = example

    def to_pb(self):
        return pb.ConfigField(
            name=self.name, type=_PB_TYPES[self.type], required=self.required,
            default_json=json.dumps(self.default).encode() if self.default is not None else b"",
            description=self.description, secret=self.secret, enum=self.enum, example=self.example)


def _describe(v):
    if isinstance(v, bool):
        return "%s (bool)" % json.dumps(v)
    if isinstance(v, (int, float)):
        return "%s (number)" % json.dumps(v)
    if isinstance(v, str):
        return "%s (string)" % json.dumps(v)
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def coerce(field, v):
    """v converted to field's type; raises ValueError saying why not."""
    t = field.type
    if t == STRING:
        if not isinstance(v, str):
            raise ValueError("must be a string, got %s" % _describe(v))
        if field.enum and v not in field.enum:
            raise ValueError("must be one of %s, got %s" % (", ".join(field.enum), json.dumps(v)))
        return v
    if t == INT:
        if isinstance(v, bool):
            raise ValueError("must be an integer, got %s" % _describe(v))
        if isinstance(v, int):
            return v
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, str):
            try:
                return int(v.strip())
            except ValueError:
                pass
        raise ValueError("must be an integer, got %s" % _describe(v))
    if t == FLOAT:
        if isinstance(v, bool):
            raise ValueError("must be a number, got %s" % _describe(v))
        if isinstance(v, (int, float)):
            return float(v)
        if isinstance(v, str):
            try:
                return float(v.strip())
            except ValueError:
                pass
        raise ValueError("must be a number, got %s" % _describe(v))
    if t == BOOL:
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.strip().lower() in ("true", "false", "1", "0", "t", "f"):
            return v.strip().lower() in ("true", "1", "t")
        raise ValueError("must be true or false, got %s" % _describe(v))
    if t == DURATION:
        if isinstance(v, str) and _DURATION.match(v.strip()):
            return v.strip()
        raise ValueError("must be a duration such as 30s or 5m, got %s" % _describe(v))
    if t == STRING_LIST:
        if isinstance(v, str):
            return [v]
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            return list(v)
        raise ValueError("must be a list of strings, got %s" % _describe(v))
    if t == STRING_MAP:
        if isinstance(v, dict) and all(isinstance(x, str) for x in v.values()):
            return dict(v)
        raise ValueError("must be an object of strings, got %s" % _describe(v))
    return v


class Schema:
    def __init__(self, fields=(), allow_unknown=False):
        self.fields = list(fields)
        self.allow_unknown = allow_unknown

    def field(self, name):
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def to_pb(self):
        return pb.ConfigSchema(fields=[f.to_pb() for f in self.fields], allow_unknown=self.allow_unknown)

    def apply(self, cfg):
        """(config with defaults and coerced values, [ConfigError]) sorted by key."""
        out, errs = {}, []
        for f in self.fields:
            v = cfg.get(f.name)
            if v is None:  # absent, or YAML "key:" with no value
                if f.required:
                    errs.append(ConfigError(f.name, "is required"))
                elif f.default is not None:
                    out[f.name] = coerce(f, f.default)
                continue
            try:
                out[f.name] = coerce(f, v)
            except ValueError as e:
                errs.append(ConfigError(f.name, str(e)))
        for k, v in cfg.items():
            if self.field(k) is not None:
                continue
            if not self.allow_unknown:
                close = difflib.get_close_matches(k, [f.name for f in self.fields], n=1, cutoff=0.6)
                errs.append(ConfigError(k, "unknown key" + (' (did you mean "%s"?)' % close[0] if close else "")))
                continue
            out[k] = v
        errs.sort(key=lambda e: e.key)
        return out, errs
