module github.com/rostersync/rostersync

go 1.26.8

require (
	github.com/google/go-cmp v0.7.0
	github.com/lmittmann/tint v1.2.1
	github.com/samber/lo v1.53.0
	github.com/sethvargo/go-envconfig v1.4.3
	golang.org/x/text v0.22.0
	golang.org/x/tools v0.52.0
	gopkg.in/yaml.v3 v3.0.1
)
