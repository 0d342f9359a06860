package pluginapi

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wogate/wogate/pkg/pluginapi/internal/pluginpb"
)

// The SDK's host (plugin side) offers SubmitActions; the host server
// (gateway side) serves it when the gateway's Host does.
var (
	_ ActionSubmitter = (*hostClient)(nil)
)

// SubmitActions sends actions to the gateway's outbox (see
// ActionSubmitter for the contract).
func (h *hostClient) SubmitActions(ctx context.Context, account, key string, actions []Action) error {
	if len(actions) == 0 {
		return nil
	}
	pas, err := actionsToPB(actions)
	if err != nil {
		return Permanent(fmt.Errorf("submit actions: %w", err))
	}
	_, err = h.c.SubmitActions(ctx, &pluginpb.SubmitActionsRequest{Account: account, Key: key, Actions: pas})
	if err == nil {
		return nil
	}
	if status.Code(err) == codes.Unimplemented {
		// A gateway from before SubmitActions, or one whose host cannot
		// queue actions: nothing was stored, and refusing the actions for
		// good would lose them. Keep them for a gateway that can.
		return fmt.Errorf("%w: %w", &Error{
			Message:   "host: submit actions: this gateway does not accept actions from plugins (" + status.Convert(err).Message() + ")",
			Retryable: true,
		}, errors.ErrUnsupported)
	}
	return hostError("submit actions", err)
}

// SubmitActions serves a plugin's SubmitActions call from the gateway's
// Host, when it is an ActionSubmitter; otherwise the call is answered
// Unimplemented.
func (h *hostServer) SubmitActions(ctx context.Context, req *pluginpb.SubmitActionsRequest) (*pluginpb.SubmitActionsResponse, error) {
	sub, ok := h.host.(ActionSubmitter)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "the gateway's host does not queue actions from plugins")
	}
	actions, err := actionsFromPB(req.GetActions())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "submit actions: %v", err)
	}
	if err := sub.SubmitActions(ctx, req.GetAccount(), req.GetKey(), actions); err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			return nil, status.Error(codes.Unimplemented, err.Error())
		}
		return nil, hostStatus(err)
	}
	return &pluginpb.SubmitActionsResponse{}, nil
}
