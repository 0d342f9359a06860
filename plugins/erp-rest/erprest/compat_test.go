package erprest_test

import (
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/pkg/pluginapi/plugintest"
)

type pluginClient = plugintest.Client

func plugintestEvent(acct string, wo corrigo.WorkOrder) pluginapi.Event {
	return plugintest.NewWorkOrderEvent(acct, wo)
}
