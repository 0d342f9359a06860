// Command csv-export is the wogate csv-export plugin. The gateway starts
// it; run by hand, `csv-export --config-markdown` prints its config
// reference and `csv-export --describe` its schema as JSON.
package main

import (
	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/plugins/csv-export/csvexport"
)

func main() { pluginapi.Serve(csvexport.New()) }
