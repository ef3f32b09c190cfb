module github.com/rostersync/rostersync

go 1.26.8

require (
	github.com/google/go-cmp v0.7.0
	github.com/sethvargo/go-envconfig v1.4.3
	gopkg.in/yaml.v3 v3.0.1
)
