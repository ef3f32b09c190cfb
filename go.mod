module github.com/rostersync/rostersync

go 1.26.8
