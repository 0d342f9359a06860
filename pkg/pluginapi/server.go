package pluginapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi/internal/pluginpb"
)

// server adapts a Plugin to the Plugin gRPC service, in the plugin process.
// It validates configs against the plugin's schema so that every plugin
// gets type, required, enum and unknown-key checks for free.
type server struct {
	pluginpb.UnimplementedPluginServer
	impl   Plugin
	broker *plugin.GRPCBroker
	maxMsg int

	mu       sync.Mutex
	info     *Info
	hostID   uint32
	hostConn *grpc.ClientConn
	host     Host
}

func newServer(impl Plugin, broker *plugin.GRPCBroker, maxMsg int) *server {
	if maxMsg <= 0 {
		maxMsg = DefaultMaxMessageSize
	}
	return &server{impl: impl, broker: broker, maxMsg: maxMsg}
}

// describe calls the plugin's Describe once and caches a success.
func (s *server) describe(ctx context.Context) (Info, error) {
	s.mu.Lock()
	if s.info != nil {
		info := *s.info
		s.mu.Unlock()
		return info, nil
	}
	s.mu.Unlock()
	var info Info
	err := guard("describe", func() error {
		var err error
		info, err = s.impl.Describe(ctx)
		return err
	})
	if err != nil {
		return Info{}, err
	}
	s.mu.Lock()
	s.info = &info
	s.mu.Unlock()
	return info, nil
}

func (s *server) Describe(ctx context.Context, _ *pluginpb.DescribeRequest) (*pluginpb.DescribeResponse, error) {
	info, err := s.describe(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "describe: %v", err)
	}
	_, inbound := s.impl.(InboundHandler)
	return &pluginpb.DescribeResponse{
		Name: info.Name, Version: info.Version, Description: info.Description,
		ConfigSchema: schemaToPB(info.ConfigSchema), HandlesInbound: inbound, SdkVersion: SDKVersion,
	}, nil
}

// validate runs the schema checks, then (only on a clean schema pass, so
// that plugin code sees well-typed values) the plugin's own checks.
func (s *server) validate(ctx context.Context, raw []byte) (map[string]any, []ConfigError) {
	cfg, err := decodeConfig(raw)
	if err != nil {
		return nil, []ConfigError{{Message: err.Error()}}
	}
	info, err := s.describe(ctx)
	if err != nil {
		return nil, []ConfigError{{Message: "describe: " + err.Error()}}
	}
	applied, errs := info.ConfigSchema.Apply(cfg)
	if len(errs) > 0 {
		return nil, errs
	}
	var more []ConfigError
	if gerr := guard("validate config", func() error {
		more = s.impl.ValidateConfig(ctx, applied)
		return nil
	}); gerr != nil {
		more = append(more, ConfigError{Message: gerr.Error()})
	}
	return applied, more
}

func (s *server) ValidateConfig(ctx context.Context, req *pluginpb.ValidateConfigRequest) (*pluginpb.ValidateConfigResponse, error) {
	_, errs := s.validate(ctx, req.GetConfigJson())
	return &pluginpb.ValidateConfigResponse{Errors: configErrorsToPB(errs)}, nil
}

func (s *server) Configure(ctx context.Context, req *pluginpb.ConfigureRequest) (*pluginpb.ConfigureResponse, error) {
	cfg, errs := s.validate(ctx, req.GetConfigJson())
	if len(errs) > 0 {
		return &pluginpb.ConfigureResponse{ConfigErrors: configErrorsToPB(errs)}, nil
	}
	host, err := s.dialHost(req.GetHostBrokerId())
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "connect to host service: %v", err)
	}
	err = guard("configure", func() error { return s.impl.Configure(ctx, cfg, host) })
	return &pluginpb.ConfigureResponse{Error: errorToPB(err)}, nil
}

// dialHost connects to the host service once per broker id; a host that
// configures the plugin again reuses the connection.
func (s *server) dialHost(id uint32) (Host, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == 0 {
		return noHost{}, nil
	}
	if s.host != nil && s.hostID == id {
		return s.host, nil
	}
	if s.broker == nil {
		return nil, errors.New("no broker")
	}
	conn, err := s.broker.DialWithOptions(id, grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(s.maxMsg), grpc.MaxCallSendMsgSize(s.maxMsg)))
	if err != nil {
		return nil, err
	}
	if s.hostConn != nil {
		_ = s.hostConn.Close()
	}
	s.hostID, s.hostConn = id, conn
	s.host = &hostClient{c: pluginpb.NewHostClient(conn)}
	return s.host, nil
}

func (s *server) HandleEvent(ctx context.Context, req *pluginpb.HandleEventRequest) (*pluginpb.HandleEventResponse, error) {
	ev, err := eventFromPB(req.GetEvent())
	if err != nil {
		return &pluginpb.HandleEventResponse{Error: errorToPB(Permanent(err))}, nil
	}
	var actions []Action
	err = guard("handle event", func() error {
		var err error
		actions, err = s.impl.HandleEvent(ctx, ev)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			// The gateway's deadline passed (or it gave up): report that,
			// not whatever error the handler made of it.
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return &pluginpb.HandleEventResponse{Error: errorToPB(err)}, nil
	}
	pas, err := actionsToPB(actions)
	if err != nil {
		return &pluginpb.HandleEventResponse{Error: errorToPB(Permanent(err))}, nil
	}
	return &pluginpb.HandleEventResponse{Actions: pas}, nil
}

func (s *server) HandleInbound(ctx context.Context, req *pluginpb.HandleInboundRequest) (*pluginpb.HandleInboundResponse, error) {
	h, ok := s.impl.(InboundHandler)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "plugin does not handle inbound requests")
	}
	var (
		resp    InboundResponse
		actions []Action
	)
	err := guard("handle inbound", func() error {
		var err error
		resp, actions, err = h.HandleInbound(ctx, inboundRequestFromPB(req))
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return &pluginpb.HandleInboundResponse{Error: errorToPB(err)}, nil
	}
	pas, err := actionsToPB(actions)
	if err != nil {
		return &pluginpb.HandleInboundResponse{Error: errorToPB(Permanent(err))}, nil
	}
	st := resp.Status
	if st == 0 {
		st = 200
	}
	if st < 100 || st > 999 {
		return &pluginpb.HandleInboundResponse{Error: errorToPB(Permanent(fmt.Errorf("invalid HTTP status %d", resp.Status)))}, nil
	}
	return &pluginpb.HandleInboundResponse{
		Status: int32(st), Header: valuesToPB(resp.Header), Body: resp.Body, Actions: pas,
	}, nil
}

func (s *server) Stop(ctx context.Context, _ *pluginpb.StopRequest) (*pluginpb.StopResponse, error) {
	err := guard("stop", func() error { return s.impl.Stop(ctx) })
	s.mu.Lock()
	if s.hostConn != nil {
		_ = s.hostConn.Close()
		s.hostConn, s.host, s.hostID = nil, nil, 0
	}
	s.mu.Unlock()
	return &pluginpb.StopResponse{Error: errorToPB(err)}, nil
}

// guard runs f and turns a panic into a permanent error, so one bad event
// does not take the whole plugin (and every event in flight) down with it.
func guard(what string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(fmt.Errorf("%s panicked: %v", what, r))
			Logger().Error("plugin panic", "op", what, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	return f()
}

// noHost is the Host when the gateway offers none (validate-only runs).
type noHost struct{}

var errNoHost = &Error{Message: "no host service in this context", Retryable: false}

func (noHost) GetWorkOrder(context.Context, string, int64) (*corrigo.WorkOrder, error) {
	return nil, errNoHost
}
func (noHost) GetCustomerSettings(context.Context, string, int) (*corrigo.CustomerSettings, error) {
	return nil, errNoHost
}
func (noHost) KVGet(context.Context, string) ([]byte, bool, error) { return nil, false, errNoHost }
func (noHost) KVPut(context.Context, string, []byte) error         { return errNoHost }
func (noHost) KVDelete(context.Context, string) error              { return errNoHost }
func (noHost) Log(_ context.Context, level, msg string, kv ...any) {
	Logger().Log(context.Background(), slogLevel(level), msg, kv...)
}

// hostClient is the Host inside the plugin process: calls go back to the
// gateway over the brokered connection.
type hostClient struct {
	c pluginpb.HostClient
}

func (h *hostClient) GetWorkOrder(ctx context.Context, account string, id int64) (*corrigo.WorkOrder, error) {
	resp, err := h.c.GetWorkOrder(ctx, &pluginpb.GetWorkOrderRequest{Account: account, WorkOrderId: id})
	if err != nil {
		return nil, hostError("get work order", err)
	}
	var wo corrigo.WorkOrder
	if err := json.Unmarshal(resp.GetWorkOrderJson(), &wo); err != nil {
		return nil, fmt.Errorf("host: get work order: decode: %w", err)
	}
	return &wo, nil
}

func (h *hostClient) GetCustomerSettings(ctx context.Context, account string, customerID int) (*corrigo.CustomerSettings, error) {
	if customerID < math.MinInt32 || customerID > math.MaxInt32 {
		return nil, Permanent(fmt.Errorf("customer id %d out of range", customerID))
	}
	resp, err := h.c.GetCustomerSettings(ctx, &pluginpb.GetCustomerSettingsRequest{Account: account, CustomerId: int32(customerID)})
	if err != nil {
		return nil, hostError("get customer settings", err)
	}
	var cs corrigo.CustomerSettings
	if err := json.Unmarshal(resp.GetSettingsJson(), &cs); err != nil {
		return nil, fmt.Errorf("host: get customer settings: decode: %w", err)
	}
	return &cs, nil
}

func (h *hostClient) KVGet(ctx context.Context, key string) ([]byte, bool, error) {
	resp, err := h.c.KVGet(ctx, &pluginpb.KVGetRequest{Key: key})
	if err != nil {
		return nil, false, hostError("kv get", err)
	}
	return resp.GetValue(), resp.GetFound(), nil
}

func (h *hostClient) KVPut(ctx context.Context, key string, value []byte) error {
	if _, err := h.c.KVPut(ctx, &pluginpb.KVPutRequest{Key: key, Value: value}); err != nil {
		return hostError("kv put", err)
	}
	return nil
}

func (h *hostClient) KVDelete(ctx context.Context, key string) error {
	if _, err := h.c.KVDelete(ctx, &pluginpb.KVDeleteRequest{Key: key}); err != nil {
		return hostError("kv delete", err)
	}
	return nil
}

func (h *hostClient) Log(ctx context.Context, level, msg string, kv ...any) {
	req := &pluginpb.LogRequest{Level: level, Message: msg, Fields: logFields(kv)}
	if _, err := h.c.Log(ctx, req); err != nil {
		// The gateway is unreachable: keep the line on stderr, which the
		// gateway also collects once it is back.
		Logger().Log(ctx, slogLevel(level), msg, kv...)
	}
}

// hostError turns a host service gRPC status into an *Error: retryable when
// the gateway or CorrigoPro is temporarily unavailable, and matching
// ErrNotFound for a missing work order or customer.
func hostError(op string, err error) error {
	st, _ := status.FromError(err)
	pe := &Error{Message: "host: " + op + ": " + st.Message()}
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		pe.Retryable = true
	case codes.Canceled:
		pe.Retryable = true
		return fmt.Errorf("%w: %w", pe, context.Canceled)
	case codes.NotFound:
		return fmt.Errorf("%w: %w", pe, ErrNotFound)
	}
	return pe
}
