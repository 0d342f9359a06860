package pluginapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi/internal/pluginpb"
	"github.com/wogate/wogate/pkg/pluginapi/internal/wire"
)

// RemoteInfo is what Describe tells a host, and what plugintest's
// Client.Describe returns: the plugin's Info as it arrived over the wire.
type RemoteInfo struct {
	Info
	HandlesInbound bool
	SDKVersion     string
}

// remote is a plugin as a host sees it, over a go-plugin gRPC connection;
// it implements host.Remote (package host dispenses it).
type remote struct {
	client pluginpb.PluginClient
	conn   *grpc.ClientConn
	broker *plugin.GRPCBroker
	done   context.Context
	maxMsg int

	hostOnce sync.Once
	hostID   uint32
}

func (r *remote) Done() <-chan struct{} { return r.done.Done() }

func (r *remote) Ping(ctx context.Context) error {
	_, err := grpc_health_v1.NewHealthClient(r.conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName})
	return err
}

func (r *remote) Describe(ctx context.Context) (RemoteInfo, error) {
	resp, err := r.client.Describe(ctx, &pluginpb.DescribeRequest{})
	if err != nil {
		return RemoteInfo{}, err
	}
	return RemoteInfo{
		Info: Info{
			Name: resp.GetName(), Version: resp.GetVersion(), Description: resp.GetDescription(),
			ConfigSchema: schemaFromPB(resp.GetConfigSchema()),
		},
		HandlesInbound: resp.GetHandlesInbound(),
		SDKVersion:     resp.GetSdkVersion(),
	}, nil
}

func (r *remote) ValidateConfig(ctx context.Context, cfg map[string]any) ([]ConfigError, error) {
	b, err := encodeConfig(cfg)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.ValidateConfig(ctx, &pluginpb.ValidateConfigRequest{ConfigJson: b})
	if err != nil {
		return nil, err
	}
	return configErrorsFromPB(resp.GetErrors()), nil
}

func (r *remote) Configure(ctx context.Context, instance string, cfg map[string]any, host Host) error {
	b, err := encodeConfig(cfg)
	if err != nil {
		return err
	}
	var id uint32
	if host != nil {
		r.hostOnce.Do(func() {
			r.hostID = r.broker.NextId()
			srv := &hostServer{host: host}
			// AcceptAndServe blocks until the broker closes (the plugin
			// exits or the client is closed); one listener per process.
			go r.broker.AcceptAndServe(r.hostID, func(opts []grpc.ServerOption) *grpc.Server {
				s := grpc.NewServer(wire.ServerOptions(r.maxMsg, opts)...)
				pluginpb.RegisterHostServer(s, srv)
				return s
			})
		})
		id = r.hostID
	}
	resp, err := r.client.Configure(ctx, &pluginpb.ConfigureRequest{ConfigJson: b, HostBrokerId: id, InstanceName: instance})
	if err != nil {
		return err
	}
	if ces := configErrorsFromPB(resp.GetConfigErrors()); len(ces) > 0 {
		return ConfigErrors(ces)
	}
	if pe := errorFromPB(resp.GetError()); pe != nil {
		return pe
	}
	return nil
}

func (r *remote) HandleEvent(ctx context.Context, ev Event) ([]Action, error) {
	pev, err := eventToPB(ev)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.HandleEvent(ctx, &pluginpb.HandleEventRequest{Event: pev})
	if err != nil {
		return nil, err
	}
	if pe := errorFromPB(resp.GetError()); pe != nil {
		return nil, pe
	}
	actions, err := actionsFromPB(resp.GetActions())
	if err != nil {
		return nil, &Error{Message: "plugin returned a bad action: " + err.Error()}
	}
	return actions, nil
}

func (r *remote) HandleInbound(ctx context.Context, req InboundRequest) (InboundResponse, []Action, error) {
	resp, err := r.client.HandleInbound(ctx, inboundRequestToPB(req))
	if err != nil {
		return InboundResponse{}, nil, err
	}
	if pe := errorFromPB(resp.GetError()); pe != nil {
		return InboundResponse{}, nil, pe
	}
	actions, err := actionsFromPB(resp.GetActions())
	if err != nil {
		return InboundResponse{}, nil, &Error{Message: "plugin returned a bad action: " + err.Error()}
	}
	st := int(resp.GetStatus())
	if st < 100 || st > 999 {
		return InboundResponse{}, nil, &Error{Message: fmt.Sprintf("plugin returned invalid HTTP status %d", st)}
	}
	return InboundResponse{Status: st, Header: http.Header(valuesFromPB(resp.GetHeader())), Body: resp.GetBody()}, actions, nil
}

func (r *remote) Stop(ctx context.Context) error {
	resp, err := r.client.Stop(ctx, &pluginpb.StopRequest{})
	if err != nil {
		return err
	}
	if pe := errorFromPB(resp.GetError()); pe != nil {
		return pe
	}
	return nil
}

// hostServer serves a Host to one plugin process.
type hostServer struct {
	pluginpb.UnimplementedHostServer
	host Host
}

func (h *hostServer) GetWorkOrder(ctx context.Context, req *pluginpb.GetWorkOrderRequest) (*pluginpb.GetWorkOrderResponse, error) {
	wo, err := h.host.GetWorkOrder(ctx, req.GetAccount(), req.GetWorkOrderId())
	if err != nil {
		return nil, hostStatus(err)
	}
	if wo == nil {
		return nil, status.Errorf(codes.NotFound, "work order %d not found", req.GetWorkOrderId())
	}
	b, err := json.Marshal(wo)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encode work order: %v", err)
	}
	return &pluginpb.GetWorkOrderResponse{WorkOrderJson: b}, nil
}

func (h *hostServer) GetCustomerSettings(ctx context.Context, req *pluginpb.GetCustomerSettingsRequest) (*pluginpb.GetCustomerSettingsResponse, error) {
	cs, err := h.host.GetCustomerSettings(ctx, req.GetAccount(), int(req.GetCustomerId()))
	if err != nil {
		return nil, hostStatus(err)
	}
	if cs == nil {
		return nil, status.Errorf(codes.NotFound, "customer %d not found", req.GetCustomerId())
	}
	b, err := json.Marshal(cs)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encode customer settings: %v", err)
	}
	return &pluginpb.GetCustomerSettingsResponse{SettingsJson: b}, nil
}

func (h *hostServer) KVGet(ctx context.Context, req *pluginpb.KVGetRequest) (*pluginpb.KVGetResponse, error) {
	v, ok, err := h.host.KVGet(ctx, req.GetKey())
	if err != nil {
		return nil, hostStatus(err)
	}
	return &pluginpb.KVGetResponse{Value: v, Found: ok}, nil
}

func (h *hostServer) KVPut(ctx context.Context, req *pluginpb.KVPutRequest) (*pluginpb.KVPutResponse, error) {
	if err := h.host.KVPut(ctx, req.GetKey(), req.GetValue()); err != nil {
		return nil, hostStatus(err)
	}
	return &pluginpb.KVPutResponse{}, nil
}

func (h *hostServer) KVDelete(ctx context.Context, req *pluginpb.KVDeleteRequest) (*pluginpb.KVDeleteResponse, error) {
	if err := h.host.KVDelete(ctx, req.GetKey()); err != nil {
		return nil, hostStatus(err)
	}
	return &pluginpb.KVDeleteResponse{}, nil
}

func (h *hostServer) Log(ctx context.Context, req *pluginpb.LogRequest) (*pluginpb.LogResponse, error) {
	h.host.Log(ctx, req.GetLevel(), req.GetMessage(), logFieldsFromPB(req.GetFields())...)
	return &pluginpb.LogResponse{}, nil
}

// hostStatus maps a host-side error to a gRPC status the plugin SDK turns
// back into an *Error (see hostError).
func hostStatus(err error) error {
	if errors.Is(err, ErrNotFound) {
		return status.Error(codes.NotFound, err.Error())
	}
	var pe *Error
	if errors.As(err, &pe) {
		if pe.Retryable {
			return status.Error(codes.Unavailable, err.Error())
		}
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	switch corrigo.ClassOf(err) {
	case corrigo.ClassNotFound:
		return status.Error(codes.NotFound, err.Error())
	case corrigo.ClassValidation:
		return status.Error(codes.InvalidArgument, err.Error())
	case corrigo.ClassPermanent, corrigo.ClassNeedsPerson:
		return status.Error(codes.FailedPrecondition, err.Error())
	case corrigo.ClassCanceled:
		return status.Error(codes.Canceled, err.Error())
	}
	return status.Error(codes.Unavailable, err.Error())
}

// logFields encodes slog-style alternating key/value pairs. A value that is
// not a string, number or bool is formatted with %v; a missing key becomes
// "!BADKEY" as in log/slog.
func logFields(kv []any) []*pluginpb.LogField {
	var out []*pluginpb.LogField
	for i := 0; i < len(kv); {
		var key string
		var val any
		if a, ok := kv[i].(slog.Attr); ok {
			key, val = a.Key, a.Value.Any()
			i++
		} else if k, ok := kv[i].(string); ok && i+1 < len(kv) {
			key, val = k, kv[i+1]
			i += 2
		} else {
			key, val = "!BADKEY", kv[i]
			i++
		}
		f := &pluginpb.LogField{Key: key}
		switch v := val.(type) {
		case string:
			f.Value = &pluginpb.LogField_StringValue{StringValue: v}
		case bool:
			f.Value = &pluginpb.LogField_BoolValue{BoolValue: v}
		case int:
			f.Value = &pluginpb.LogField_IntValue{IntValue: int64(v)}
		case int32:
			f.Value = &pluginpb.LogField_IntValue{IntValue: int64(v)}
		case int64:
			f.Value = &pluginpb.LogField_IntValue{IntValue: v}
		case uint32:
			f.Value = &pluginpb.LogField_IntValue{IntValue: int64(v)}
		case uint64:
			if v <= math.MaxInt64 {
				f.Value = &pluginpb.LogField_IntValue{IntValue: int64(v)}
			} else {
				f.Value = &pluginpb.LogField_FloatValue{FloatValue: float64(v)}
			}
		case float64:
			f.Value = &pluginpb.LogField_FloatValue{FloatValue: v}
		case float32:
			f.Value = &pluginpb.LogField_FloatValue{FloatValue: float64(v)}
		case error:
			f.Value = &pluginpb.LogField_StringValue{StringValue: v.Error()}
		default:
			f.Value = &pluginpb.LogField_StringValue{StringValue: fmt.Sprint(v)}
		}
		out = append(out, f)
	}
	return out
}

func logFieldsFromPB(fs []*pluginpb.LogField) []any {
	out := make([]any, 0, 2*len(fs))
	for _, f := range fs {
		if f == nil {
			continue
		}
		var v any
		switch x := f.GetValue().(type) {
		case *pluginpb.LogField_StringValue:
			v = x.StringValue
		case *pluginpb.LogField_IntValue:
			v = x.IntValue
		case *pluginpb.LogField_FloatValue:
			v = x.FloatValue
		case *pluginpb.LogField_BoolValue:
			v = x.BoolValue
		}
		out = append(out, slog.Any(f.GetKey(), v))
	}
	return out
}
