// Command erp-rest is the wogate erp-rest plugin: it creates jobs in a REST
// ERP or field-service system from CorrigoPro work orders and turns the
// ERP's status callbacks into CorrigoPro actions. The gateway starts it;
// run by hand, `erp-rest --config-markdown` prints its config reference
// and `erp-rest --describe` its schema as JSON.
package main

import (
	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/plugins/erp-rest/erprest"
)

func main() { pluginapi.Serve(erprest.New()) }
