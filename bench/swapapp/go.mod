module github.com/go-azure-deploy/go-azure-deploy/bench/swapapp

go 1.22

require github.com/go-azure-deploy/go-azure-deploy/goazure v0.0.0

replace github.com/go-azure-deploy/go-azure-deploy/goazure => ../../goazure
