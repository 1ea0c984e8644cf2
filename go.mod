module github.com/rotator-dev/rotator

go 1.26.8

require (
	github.com/jonboulle/clockwork v0.5.0
	github.com/prometheus/common v0.73.1
	go.uber.org/zap v1.28.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/prometheus/client_model v0.6.3 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)
