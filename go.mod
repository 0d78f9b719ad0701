module github.com/goopenssh/openssh

go 1.24
