module github.com/wogate/wogate/pkg/corrigo

go 1.24.0

require (
	github.com/google/uuid v1.6.0
	golang.org/x/time v0.12.0
)
