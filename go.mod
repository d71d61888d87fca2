module github.com/stack-web/stack

go 1.26
