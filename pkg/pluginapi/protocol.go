package pluginapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi/internal/convert"
	"github.com/wogate/wogate/pkg/pluginapi/internal/pluginpb"
	"github.com/wogate/wogate/pkg/pluginapi/internal/wire"
)

// ProtocolVersion is the newest plugin protocol version this SDK speaks
// (proto package wogate.plugin.v1). Hosts and plugins negotiate the highest
// version both know through go-plugin's VersionedPlugins, so a gateway that
// adds v2 keeps running v1 plugins.
const ProtocolVersion = 1

// SDKVersion is reported by Describe; informational.
const SDKVersion = "wogate-go-sdk/1"

// DefaultMaxMessageSize bounds every gRPC message between gateway and
// plugin, both ways (gRPC's own default is 4 MiB received, unbounded sent).
const DefaultMaxMessageSize = 16 << 20

// grpcPlugin is the go-plugin glue: GRPCServer runs in the plugin process,
// GRPCClient in the host (package host dispenses it through wire.PluginSet).
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl   Plugin // plugin side only
	maxMsg int
}

var _ plugin.GRPCPlugin = (*grpcPlugin)(nil)

func (g *grpcPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	pluginpb.RegisterPluginServer(s, newServer(g.impl, broker, g.maxMsg))
	return nil
}

func (g *grpcPlugin) GRPCClient(ctx context.Context, broker *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return &remote{
		client: pluginpb.NewPluginClient(conn),
		conn:   conn,
		broker: broker,
		done:   ctx,
		maxMsg: g.maxMsg,
	}, nil
}

// pluginSet is the go-plugin plugin set for protocol v1: a plugin process
// serves impl, a host passes nil.
func pluginSet(impl Plugin, maxMessageSize int) plugin.PluginSet {
	return plugin.PluginSet{wire.DispenseName: &grpcPlugin{impl: impl, maxMsg: wire.MaxMessageSize(maxMessageSize)}}
}

func init() {
	wire.PluginSet = func(impl any, maxMessageSize int) plugin.PluginSet {
		p, _ := impl.(Plugin)
		return pluginSet(p, maxMessageSize)
	}
}

// ConfigErrors is a list of config problems reported as one error.
type ConfigErrors []ConfigError

func (es ConfigErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return "invalid config: " + strings.Join(parts, "; ")
}

// ------------------------------------------------------------ conversions

func errorToPB(err error) *pluginpb.PluginError {
	if err == nil {
		return nil
	}
	pe := AsError(err)
	// needs_person implies retryable false on the wire, so a gateway that
	// does not know the field dead-letters the event rather than retrying
	// it forever.
	out := &pluginpb.PluginError{Message: pe.Message, Retryable: pe.Retryable && !pe.NeedsPerson, NeedsPerson: pe.NeedsPerson}
	if out.Retryable && pe.RetryAfter > 0 {
		out.RetryAfterMs = max(pe.RetryAfter.Milliseconds(), 1)
	}
	return out
}

func errorFromPB(e *pluginpb.PluginError) *Error {
	if e == nil {
		return nil
	}
	msg := e.GetMessage()
	if msg == "" {
		msg = "plugin reported an error without a message"
	}
	out := &Error{Message: msg, Retryable: e.GetRetryable() && !e.GetNeedsPerson(), NeedsPerson: e.GetNeedsPerson()}
	if ms := e.GetRetryAfterMs(); out.Retryable && ms > 0 {
		out.RetryAfter = time.Duration(min(ms, int64(math.MaxInt64/time.Millisecond))) * time.Millisecond
	}
	return out
}

func configErrorsToPB(es []ConfigError) []*pluginpb.ConfigError {
	out := make([]*pluginpb.ConfigError, len(es))
	for i, e := range es {
		out[i] = &pluginpb.ConfigError{Key: e.Key, Message: e.Message}
	}
	return out
}

func configErrorsFromPB(es []*pluginpb.ConfigError) []ConfigError {
	if len(es) == 0 {
		return nil
	}
	out := make([]ConfigError, 0, len(es))
	for _, e := range es {
		if e != nil {
			out = append(out, ConfigError{Key: e.GetKey(), Message: e.GetMessage()})
		}
	}
	return out
}

var fieldTypesPB = map[FieldType]pluginpb.FieldType{
	TypeString:     pluginpb.FieldType_FIELD_TYPE_STRING,
	TypeInt:        pluginpb.FieldType_FIELD_TYPE_INT,
	TypeFloat:      pluginpb.FieldType_FIELD_TYPE_FLOAT,
	TypeBool:       pluginpb.FieldType_FIELD_TYPE_BOOL,
	TypeDuration:   pluginpb.FieldType_FIELD_TYPE_DURATION,
	TypeStringList: pluginpb.FieldType_FIELD_TYPE_STRING_LIST,
	TypeStringMap:  pluginpb.FieldType_FIELD_TYPE_STRING_MAP,
	TypeAny:        pluginpb.FieldType_FIELD_TYPE_ANY,
}

func schemaToPB(s Schema) *pluginpb.ConfigSchema {
	out := &pluginpb.ConfigSchema{AllowUnknown: s.AllowUnknown}
	for _, f := range s.Fields {
		out.Fields = append(out.Fields, &pluginpb.ConfigField{
			Name: f.Name, Type: fieldTypesPB[f.Type], Required: f.Required, DefaultJson: defaultJSON(f),
			Description: f.Description, Secret: f.Secret, Enum: f.Enum, Example: f.Example,
		})
	}
	return out
}

func schemaFromPB(s *pluginpb.ConfigSchema) Schema {
	out := Schema{AllowUnknown: s.GetAllowUnknown()}
	for _, f := range s.GetFields() {
		if f == nil {
			continue
		}
		ft := TypeAny // an unknown (newer) type is not checked by this host
		for k, v := range fieldTypesPB {
			if v == f.GetType() {
				ft = k
			}
		}
		var def any
		if len(f.GetDefaultJson()) > 0 {
			if err := json.Unmarshal(f.GetDefaultJson(), &def); err != nil {
				def = nil
			}
		}
		out.Fields = append(out.Fields, Field{
			Name: f.GetName(), Type: ft, Required: f.GetRequired(), Default: def,
			Description: f.GetDescription(), Secret: f.GetSecret(), Enum: f.GetEnum(), Example: f.GetExample(),
		})
	}
	return out
}

func actionToPB(a Action) (*pluginpb.Action, error) {
	k, ok := convert.Kind(string(a.Kind))
	if !ok {
		return nil, fmt.Errorf("unknown action kind %q", a.Kind)
	}
	return &pluginpb.Action{
		Kind: k, WorkOrderId: a.WorkOrderID, Comment: a.Comment,
		Location: convert.GeoLocation(a.Location), ActualActionDate: convert.TimePtr(a.ActualActionDate),
		PerformedBy: convert.Person(a.PerformedBy), RepairInfo: convert.RepairInfo(a.RepairInfo),
		CustomFields: convert.CustomFields(a.CustomFields), Amount: a.Amount,
		LineItems: convert.LineItems(a.LineItems), Invoice: convert.Invoice(a.Invoice),
		SubmitAnyway: a.SubmitAnyway, Text: a.Text, Visibility: a.Visibility,
		Appointment: convert.Appointment(a.Appointment),
	}, nil
}

func actionFromPB(a *pluginpb.Action) (Action, error) {
	if a == nil {
		return Action{}, fmt.Errorf("empty action")
	}
	kind, ok := convert.FromKind(a.GetKind())
	if !ok {
		return Action{}, fmt.Errorf("unknown action kind %d (%s)", int32(a.GetKind()), a.GetKind())
	}
	return Action{
		Kind: ActionKind(kind), WorkOrderID: a.GetWorkOrderId(), Comment: a.GetComment(),
		Location: convert.FromGeoLocation(a.GetLocation()), ActualActionDate: convert.FromTimePtr(a.GetActualActionDate()),
		PerformedBy: convert.FromPerson(a.GetPerformedBy()), RepairInfo: convert.FromRepairInfo(a.GetRepairInfo()),
		CustomFields: convert.FromCustomFields(a.GetCustomFields()), Amount: a.GetAmount(),
		LineItems: convert.FromLineItems(a.GetLineItems()), Invoice: convert.FromInvoice(a.GetInvoice()),
		SubmitAnyway: a.GetSubmitAnyway(), Text: a.GetText(), Visibility: a.GetVisibility(),
		Appointment: convert.FromAppointment(a.GetAppointment()),
	}, nil
}

func actionsToPB(as []Action) ([]*pluginpb.Action, error) {
	out := make([]*pluginpb.Action, len(as))
	for i, a := range as {
		pa, err := actionToPB(a)
		if err != nil {
			return nil, fmt.Errorf("action %d: %w", i, err)
		}
		out[i] = pa
	}
	return out, nil
}

func actionsFromPB(as []*pluginpb.Action) ([]Action, error) {
	if len(as) == 0 {
		return nil, nil
	}
	out := make([]Action, len(as))
	for i, a := range as {
		ga, err := actionFromPB(a)
		if err != nil {
			return nil, fmt.Errorf("action %d: %w", i, err)
		}
		out[i] = ga
	}
	return out, nil
}

func eventToPB(ev Event) (*pluginpb.Event, error) {
	out := &pluginpb.Event{
		Id: ev.ID, Account: ev.Account, Source: ev.Source, Rule: ev.Rule,
		Header: convert.Header(ev.Header), Body: ev.Body, Replay: ev.Replay,
	}
	if ev.WorkOrder != nil {
		b, err := json.Marshal(ev.WorkOrder)
		if err != nil {
			return nil, fmt.Errorf("encode work order: %w", err)
		}
		out.WorkOrderJson = b
	}
	return out, nil
}

func eventFromPB(e *pluginpb.Event) (Event, error) {
	ev := Event{
		ID: e.GetId(), Account: e.GetAccount(), Source: e.GetSource(), Rule: e.GetRule(),
		Header: convert.FromHeader(e.GetHeader()), Body: e.GetBody(), Replay: e.GetReplay(),
	}
	if b := e.GetWorkOrderJson(); len(b) > 0 {
		var wo corrigo.WorkOrder
		if err := json.Unmarshal(b, &wo); err != nil {
			return Event{}, fmt.Errorf("decode event work order: %w", err)
		}
		ev.WorkOrder = &wo
	}
	return ev, nil
}

func valuesToPB(m map[string][]string) map[string]*pluginpb.StringList {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]*pluginpb.StringList, len(m))
	for k, v := range m {
		out[k] = &pluginpb.StringList{Values: v}
	}
	return out
}

func valuesFromPB(m map[string]*pluginpb.StringList) map[string][]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = v.GetValues()
	}
	return out
}

func inboundRequestToPB(r InboundRequest) *pluginpb.HandleInboundRequest {
	return &pluginpb.HandleInboundRequest{
		Method: r.Method, Path: r.Path, Header: valuesToPB(r.Header), Query: valuesToPB(r.Query), Body: r.Body,
	}
}

func inboundRequestFromPB(r *pluginpb.HandleInboundRequest) InboundRequest {
	return InboundRequest{
		Method: r.GetMethod(), Path: r.GetPath(),
		Header: http.Header(valuesFromPB(r.GetHeader())), Query: url.Values(valuesFromPB(r.GetQuery())),
		Body: r.GetBody(),
	}
}

func encodeConfig(cfg map[string]any) ([]byte, error) {
	if cfg == nil {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode plugin config: %w", err)
	}
	return b, nil
}

func decodeConfig(b []byte) (map[string]any, error) {
	cfg := map[string]any{}
	if len(b) == 0 {
		return cfg, nil
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("decode plugin config: %w", err)
	}
	if cfg == nil { // JSON null
		cfg = map[string]any{}
	}
	return cfg, nil
}
